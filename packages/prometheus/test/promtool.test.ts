import { spawnSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { PrometheusMetrics } from '../src/index.js'
import { batchRun } from './run.js'

const PROMTOOL = process.env.PROMTOOL_BIN ?? 'promtool'

/** promtool's findings on an exposition, one per line ("<metric> <problem>"). */
function lint(text: string): string[] {
  const r = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8' })
  if (r.error) throw r.error
  return `${r.stdout}${r.stderr}`
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .sort()
}

async function fullExposition(defaultMetrics: boolean): Promise<string> {
  const m = new PrometheusMetrics({ defaultMetrics })
  m.setCurrentTestCase('lint')
  await batchRun(m)
  m.bindGauges('mockdb', { queueLength: () => 3, inFlightBatches: () => 1 })
  m.recordEnqueueLatency(0.01, 'mockdb')
  m.recordKeyOrderWait('mockdb', 'events', 0.02)
  m.recordDroppedErrors(2, 'mockdb')
  m.recordTestResult('mockdb', 'lint', {
    durationSeconds: 1,
    expected: 10,
    found: 10,
    submitted: 10,
    failed: 0,
    rps: 10,
    success: true,
    integrityRate: 100,
    memory: { rssMB: 1, heapUsedMB: 1, heapTotalMB: 1, externalMB: 1 },
    gcCount: 1,
  })
  return m.metrics()
}

// The guide fixes these names and its dashboards and queries use them, so we keep them even
// though promtool's naming rules disagree (see the README). Nothing else may be flagged.
const GUIDE_FINDINGS = [
  'batchsql_gc_count non-histogram and non-summary metrics should not have "_count" suffix',
  'batchsql_memory_usage_mb metric names should not contain abbreviated units',
  'batchsql_test_records_total non-counter metrics should not have "_total" suffix',
]
// prom-client's default Node metrics: gauges whose names end in _total.
const DEFAULT_METRIC_FINDINGS = [
  'batchsql_nodejs_active_handles_total non-counter metrics should not have "_total" suffix',
  'batchsql_nodejs_active_requests_total non-counter metrics should not have "_total" suffix',
  'batchsql_nodejs_active_resources_total non-counter metrics should not have "_total" suffix',
]

describe('promtool check metrics', () => {
  it('flags only the three names the guide fixes', async () => {
    const text = await fullExposition(false)
    expect(text).toContain('batchsql_enqueue_latency_seconds_bucket')
    expect(text).toContain('batchsql_key_order_wait_seconds_bucket')
    expect(lint(text)).toEqual(GUIDE_FINDINGS)
  })

  it('with default Node metrics, only those and three of prom-client’s names', async () => {
    const text = await fullExposition(true)
    expect(text).toContain('batchsql_process_cpu_seconds_total')
    expect(lint(text)).toEqual([...GUIDE_FINDINGS, ...DEFAULT_METRIC_FINDINGS].sort())
  })
})
