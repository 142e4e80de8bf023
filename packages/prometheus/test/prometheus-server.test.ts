import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { PrometheusMetrics } from '../src/index.js'
import { batchRun } from './run.js'

const PROMETHEUS = process.env.PROMETHEUS_BIN ?? 'prometheus'

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number }
      s.close(() => resolve(port))
    })
  })
}

const dir = mkdtempSync(join(tmpdir(), 'batchsql-prom-'))
let proc: ChildProcess | undefined
let promPort = 0
const reporter = new PrometheusMetrics({ defaultMetrics: true })
afterAll(async () => {
  proc?.kill('SIGTERM')
  await reporter.stopServer()
  rmSync(dir, { recursive: true, force: true })
})

interface QueryResult {
  status: string
  data: { result: { metric: Record<string, string>; value: [number, string] }[] }
}

async function query(q: string): Promise<QueryResult> {
  const res = await fetch(
    `http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(q)}`,
  )
  return (await res.json()) as QueryResult
}

/** The one value `q` returns once Prometheus has scraped it (polls; the scrape interval is 1 s). */
async function scraped(q: string): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const r = await query(q)
    if (r.data.result.length === 1) return Number(r.data.result[0]!.value[1])
    await new Promise((r) => setTimeout(r, 300))
  }
  throw new Error(`no single series for ${q}`)
}

describe('a real Prometheus server', () => {
  it('scrapes the endpoint and answers queries over its HTTP API', {
    timeout: 60_000,
  }, async () => {
    reporter.setCurrentTestCase('scrape')
    await batchRun(reporter)
    const { port } = await reporter.startServer(0)
    promPort = await freePort()
    writeFileSync(
      join(dir, 'prometheus.yml'),
      `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: batchsql\n    static_configs:\n      - targets: ['127.0.0.1:${port}']\n`,
    )
    proc = spawn(
      PROMETHEUS,
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
      ],
      { stdio: 'ignore' },
    )
    let result: QueryResult | undefined
    for (let i = 0; i < 100; i++) {
      try {
        result = await query('batchsql_records_processed_total{table="events"}')
        if (result.data.result.length > 0) break
      } catch {
        // Prometheus not up yet
      }
      await new Promise((r) => setTimeout(r, 300))
    }
    expect(result?.status).toBe('success')
    expect(result!.data.result).toHaveLength(1)
    expect(result!.data.result[0]!.metric).toMatchObject({
      database: 'mockdb',
      table: 'events',
      test_case: 'scrape',
      job: 'batchsql',
    })
    expect(Number(result!.data.result[0]!.value[1])).toBe(1000)
    const up = await query('up{job="batchsql"}')
    expect(up.data.result[0]!.value[1]).toBe('1')
  })

  it("counts a test case's first batch and its first errors in increase()", {
    timeout: 60_000,
  }, async () => {
    // Each series of a new test case is started at 0 when the test case is set, and scraped
    // before any row: without that, a series first scraped at 1000 has an increase() of 0,
    // and the failed users batch (its only error) never shows on a dashboard.
    reporter.setCurrentTestCase('second')
    const sel = '{database="mockdb",table="events",test_case="second"}'
    const users = '{database="mockdb",table="users",test_case="second"}'
    expect(await scraped(`batchsql_records_processed_total${sel}`)).toBe(0)
    expect(await scraped(`sum(batchsql_errors_total${users})`)).toBe(0)
    await batchRun(reporter)
    // Wait for a scrape of everything the run recorded.
    const done = Date.now() / 1000
    for (let i = 0; i < 100; i++) {
      if ((await scraped(`timestamp(batchsql_records_processed_total${sel})`)) > done) break
      await new Promise((r) => setTimeout(r, 300))
    }
    expect(await scraped(`batchsql_records_processed_total${sel}`)).toBe(1000)
    expect(
      await scraped(`increase(batchsql_records_processed_total${sel}[1m])`),
    ).toBeGreaterThanOrEqual(1000)
    expect(await scraped(`sum(increase(batchsql_errors_total${users}[1m]))`)).toBeGreaterThan(0)
    expect(
      await scraped(`sum(increase(batchsql_batch_execution_total${users}[1m]))`),
    ).toBeGreaterThan(0)
  })

  it('resolves the queue wait of interval flushes: a p95 near the default flushInterval', {
    timeout: 60_000,
  }, async () => {
    // Every flush made by the 100 ms interval is a little over 0.1 s old when it starts.
    // histogram_quantile() interpolates inside the bucket holding them: with buckets 0.1 and
    // 0.25 next to each other the dashboard's p95 read 0.24 s for waits of 0.1004–0.104 s.
    reporter.setCurrentTestCase('interval')
    for (let i = 0; i < 200; i++) reporter.recordQueueWait(0.1004 + (i % 10) * 0.0004, 'mockdb')
    const sel = '{database="mockdb",test_case="interval"}'
    for (let i = 0; i < 100; i++) {
      if ((await scraped(`batchsql_queue_wait_seconds_count${sel}`)) === 200) break
      await new Promise((r) => setTimeout(r, 300))
    }
    const p95 = await scraped(
      `histogram_quantile(0.95, sum by (le) (batchsql_queue_wait_seconds_bucket${sel}))`,
    )
    expect(p95).toBeGreaterThan(0.1)
    expect(p95).toBeLessThanOrEqual(0.11)
  })
})
