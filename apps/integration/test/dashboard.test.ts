import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'

// The dashboard's static checks, without Prometheus (servers-run.test.ts evaluates every query
// against a real one after a real run).
const ROOT = resolve(import.meta.dirname, '../../..')
const checker = (await import(join(ROOT, 'scripts/check-dashboard.mjs'))) as {
  checkDashboardStructure(json: unknown): string[]
  promqlProblems(expr: string): string[]
}
const dashboard = JSON.parse(
  readFileSync(join(ROOT, 'monitoring/grafana/dashboards/batchsql-performance.json'), 'utf8'),
)

describe('the Grafana dashboard', () => {
  it('is well formed, and no query rates a gauge or drops `le` from a quantile', () => {
    expect(checker.checkDashboardStructure(dashboard)).toEqual([])
  })

  it('the PromQL check finds what Prometheus would answer without complaint', () => {
    expect(checker.promqlProblems('rate(batchsql_queue_length[5m])')).toHaveLength(1)
    expect(checker.promqlProblems('increase(batchsql_batch_size[5m])')).toHaveLength(1)
    expect(
      checker.promqlProblems(
        'histogram_quantile(0.9, sum by (database) (rate(batchsql_batch_size_bucket[5m])))',
      ),
    ).toHaveLength(1)
    expect(
      checker.promqlProblems(
        'histogram_quantile(0.9, sum by (le, database) (rate(batchsql_batch_size_bucket[5m])))',
      ),
    ).toEqual([])
    expect(checker.promqlProblems('sum(rate(batchsql_errors_total[5m]))')).toEqual([])
  })
})
