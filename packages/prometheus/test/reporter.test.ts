import { createBatchSQL, createExecutor, defineSchema, markInDoubt } from '@batchsql/core'
import { MockProcessor } from '@batchsql/core/testing'
import { Counter, Registry } from 'prom-client'
import { afterEach, describe, expect, it } from 'vitest'
import { metricsHandler, PrometheusMetrics } from '../src/index.js'
import { batchRun } from './run.js'

/** The value of one series in Prometheus text, or undefined. */
function value(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue
    const ok = Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))
    if (ok) return Number(line.slice(line.lastIndexOf(' ') + 1))
  }
  return undefined
}

const started: PrometheusMetrics[] = []
afterEach(async () => {
  for (const m of started.splice(0)) await m.stopServer()
})

describe('key-order waits', () => {
  it('a batch that waits for an earlier one sharing a key is timed, one that does not is not', async () => {
    const m = new PrometheusMetrics({ registry: new Registry() })
    m.setCurrentTestCase('unit')
    const kv = defineSchema({
      table: 'kv',
      columns: { k: 'string', v: 'int' },
      strategy: 'replace',
      conflictColumns: ['k'],
    })
    const batch = createBatchSQL({
      executor: createExecutor(new MockProcessor({ delayMs: 30 }, 'mockdb'), {
        concurrency: 4,
        metrics: m,
      }),
      flushSize: 2,
      flushInterval: 1000,
      metrics: m,
    })
    // Three flushes in flight at once: the second shares "a" with the first, the third shares
    // nothing with either.
    await batch.submitMany(kv, [
      { k: 'a', v: 1 },
      { k: 'b', v: 1 },
      { k: 'a', v: 2 },
      { k: 'c', v: 2 },
      { k: 'd', v: 3 },
      { k: 'e', v: 3 },
    ])
    await batch.close()
    const t = await m.metrics()
    const l = { database: 'mockdb', table: 'kv', test_case: 'unit' }
    expect(value(t, 'batchsql_key_order_wait_seconds_count', l)).toBe(1)
    expect(value(t, 'batchsql_key_order_wait_seconds_sum', l)).toBeGreaterThan(0)
  })
})

describe('PrometheusMetrics over HTTP after a real batch run', () => {
  it('every metric moved as the run says', async () => {
    const m = new PrometheusMetrics()
    started.push(m)
    m.setCurrentTestCase('unit')
    await batchRun(m)
    m.recordTestResult('mockdb', 'unit', {
      durationSeconds: 2.5,
      expected: 1010,
      found: 1000,
      submitted: 1010,
      failed: 10,
      outcomeUnknown: 4,
      rps: 400,
      success: false,
      integrityRate: 99,
      memory: { rssMB: 120, heapUsedMB: 40, heapTotalMB: 60, externalMB: 3 },
      gcCount: 7,
    })
    const { url } = await m.startServer(0)
    const res = await fetch(url)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
    const t = await res.text()
    const ev = { database: 'mockdb', table: 'events', test_case: 'unit' }
    expect(value(t, 'batchsql_records_processed_total', ev)).toBe(1000)
    // No user committed: its series exists, at 0 (started with the table, see declareTable).
    expect(value(t, 'batchsql_records_processed_total', { ...ev, table: 'users' })).toBe(0)
    // Rows not written: the 10 users of the failed batch; none of the events (series at 0).
    expect(value(t, 'batchsql_records_failed_total', { ...ev, table: 'users' })).toBe(10)
    expect(value(t, 'batchsql_records_failed_total', ev)).toBe(0)
    expect(value(t, 'batchsql_batch_execution_total', { ...ev, status: 'success' })).toBe(10)
    expect(
      value(t, 'batchsql_batch_execution_total', { ...ev, table: 'users', status: 'failure' }),
    ).toBe(1)
    expect(
      value(t, 'batchsql_batch_execution_duration_seconds_count', { ...ev, status: 'success' }),
    ).toBe(10)
    expect(value(t, 'batchsql_batch_size_sum', ev)).toBe(1000)
    expect(value(t, 'batchsql_batch_size_count', ev)).toBe(10)
    expect(value(t, 'batchsql_errors_total', { ...ev, error_type: 'retry:connection' })).toBe(1)
    expect(
      value(t, 'batchsql_errors_total', { ...ev, table: 'users', error_type: 'retry:connection' }),
    ).toBe(0)
    expect(
      value(t, 'batchsql_errors_total', { ...ev, table: 'users', error_type: 'final:unknown' }),
    ).toBe(1)
    // Pipeline-level series carry the pipeline's database, like the batch-level ones.
    const tcase = { database: 'mockdb', test_case: 'unit' }
    expect(value(t, 'batchsql_flush_size_rows_sum', tcase)).toBe(1010)
    expect(value(t, 'batchsql_flush_schema_groups_count', tcase)).toBeGreaterThan(0)
    expect(value(t, 'batchsql_queue_wait_seconds_count', tcase)).toBeGreaterThan(0)
    expect(value(t, 'batchsql_assemble_duration_seconds_count', tcase)).toBeGreaterThan(0)
    expect(
      value(t, 'batchsql_rejected_submits_total', { database: 'mockdb', reason: 'validation' }),
    ).toBe(1)
    expect(
      value(t, 'batchsql_rejected_submits_total', { database: 'mockdb', reason: 'closed' }),
    ).toBe(1)
    expect(value(t, 'batchsql_executor_concurrency_limit', { database: 'mockdb' })).toBe(2)
    expect(value(t, 'batchsql_queue_length', { database: 'mockdb' })).toBe(0)
    expect(value(t, 'batchsql_inflight_batches', { database: 'mockdb' })).toBe(0)
    expect(value(t, 'batchsql_dropped_errors_total', { database: 'mockdb' })).toBe(0)
    const tc = { database: 'mockdb', test_case: 'unit' }
    expect(value(t, 'batchsql_test_duration_seconds', tc)).toBe(2.5)
    expect(value(t, 'batchsql_test_rps', tc)).toBe(400)
    expect(value(t, 'batchsql_test_success', tc)).toBe(0)
    expect(value(t, 'batchsql_test_data_integrity_rate', tc)).toBe(99)
    expect(value(t, 'batchsql_test_records_total', { ...tc, type: 'expected' })).toBe(1010)
    expect(value(t, 'batchsql_test_records_total', { ...tc, type: 'found' })).toBe(1000)
    expect(value(t, 'batchsql_test_records_total', { ...tc, type: 'outcome_unknown' })).toBe(4)
    expect(value(t, 'batchsql_memory_usage_mb', { ...tc, type: 'heap_used' })).toBe(40)
    expect(value(t, 'batchsql_gc_count', tc)).toBe(7)
    m.recordRealTimeMetrics('mockdb', 'unit', 1234, 150)
    const t2 = await (await fetch(url)).text()
    expect(value(t2, 'batchsql_test_rps', tc)).toBe(1234)
    expect(value(t2, 'batchsql_memory_usage_mb', { ...tc, type: 'rss' })).toBe(150)
  })

  it('queue length and in-flight batches are read at scrape time', async () => {
    const m = new PrometheusMetrics()
    let queued = 5
    m.bindGauges('a', { queueLength: () => queued, inFlightBatches: () => 2 })
    m.bindGauges('b', { queueLength: () => 1, inFlightBatches: () => 0 })
    expect(value(await m.metrics(), 'batchsql_queue_length', { database: 'a' })).toBe(5)
    queued = 9
    const t = await m.metrics()
    expect(value(t, 'batchsql_queue_length', { database: 'a' })).toBe(9)
    expect(value(t, 'batchsql_queue_length', { database: 'b' })).toBe(1)
    expect(value(t, 'batchsql_inflight_batches', { database: 'a' })).toBe(2)
  })

  it('the concurrency limit of a database is the sum over its running pipelines', async () => {
    const m = new PrometheusMetrics()
    const sink = (name: string) => new MockProcessor({}, name)
    const events = defineSchema({ table: 'events', columns: ['id'] })
    const open = (db: string, concurrency: number) =>
      createBatchSQL({ executor: createExecutor(sink(db), { concurrency }), metrics: m })
    const a = open('shared', 8)
    const b = open('shared', 2)
    const c = open('alone', 3)
    await a.submit(events, { id: 1 })
    const limit = async (database: string) =>
      value(await m.metrics(), 'batchsql_executor_concurrency_limit', { database })
    // Not whichever pipeline set it last (2): both can run batches at once.
    expect(await limit('shared')).toBe(10)
    expect(await limit('alone')).toBe(3)
    await b.close()
    expect(await limit('shared')).toBe(8)
    await Promise.all([a.close(), c.close()])
    // No pipeline running: the limit last configured.
    expect(await limit('shared')).toBe(2)
  })

  it('serves OpenMetrics when asked, a health endpoint, and 404 elsewhere', async () => {
    const m = new PrometheusMetrics()
    started.push(m)
    await batchRun(m)
    const { port } = await m.startServer(0)
    const om = await fetch(`http://127.0.0.1:${port}/metrics`, {
      headers: { Accept: 'application/openmetrics-text; version=1.0.0' },
    })
    expect(om.headers.get('content-type')).toMatch(/^application\/openmetrics-text/)
    const text = await om.text()
    expect(text.trimEnd().endsWith('# EOF')).toBe(true)
    expect(text).toContain('batchsql_records_processed_total{')
    expect(text).toContain('# TYPE batchsql_records_processed counter')
    expect(text).not.toContain('_total_total')
    // prom-client renames a counter it renders as OpenMetrics; the Prometheus-format
    // scrapes that follow must keep `_total` (they lost it: `batchsql_records_processed{…}`).
    for (let i = 0; i < 2; i++) {
      const plain = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
      expect(plain).toContain('# TYPE batchsql_records_processed_total counter')
      expect(value(plain, 'batchsql_records_processed_total', { table: 'events' })).toBe(1000)
      expect(plain).not.toMatch(/^batchsql_records_processed\{/m)
      const again = await m.metrics(true)
      expect(again).toContain('batchsql_records_processed_total{')
      expect(again).not.toContain('_total_total')
    }
    const health = await fetch(`http://127.0.0.1:${port}/health`)
    expect([health.status, await health.text()]).toEqual([200, 'ok\n'])
    expect((await fetch(`http://127.0.0.1:${port}/nope`)).status).toBe(404)
  })

  it('one server at a time, even when starts race; stopServer() closes one still binding', async () => {
    // Both racing calls bound a server, and stopServer() closed only the second: the first
    // kept answering and held the process open (QA 2026-11-29).
    const m = new PrometheusMetrics({ registry: new Registry() })
    started.push(m)
    const both = await Promise.allSettled([m.startServer(0), m.startServer(0)])
    expect(both.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected'])
    const refused = both.find((r) => r.status === 'rejected') as PromiseRejectedResult
    expect(refused.reason).toMatchObject({ code: 'BATCHSQL_INVALID_CONFIG' })
    const { port } = (
      both.find((r) => r.status === 'fulfilled') as PromiseFulfilledResult<{
        port: number
      }>
    ).value
    expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200)
    await m.stopServer()
    await expect(fetch(`http://127.0.0.1:${port}/health`)).rejects.toThrow()
    // Stopped while binding: closed once bound, not left running.
    const pending = m.startServer(0)
    await m.stopServer()
    const late = await pending
    await expect(fetch(`http://127.0.0.1:${late.port}/health`)).rejects.toThrow()
    // A start that fails to bind leaves none claimed: the next one runs.
    const other = new PrometheusMetrics({ registry: new Registry() })
    started.push(other)
    const taken = await other.startServer(0)
    await expect(m.startServer(taken.port)).rejects.toMatchObject({ code: 'EADDRINUSE' })
    expect((await m.startServer(0)).port).toBeGreaterThan(0)
  })

  it('a handler mounts in your own server', async () => {
    const { createServer } = await import('node:http')
    const m = new PrometheusMetrics()
    await batchRun(m)
    const handler = metricsHandler(m)
    const server = createServer((req, res) =>
      req.url === '/custom' ? handler(req, res) : res.end(),
    )
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
    const { port } = server.address() as { port: number }
    const t = await (await fetch(`http://127.0.0.1:${port}/custom`)).text()
    server.close()
    expect(value(t, 'batchsql_records_processed_total', { table: 'events' })).toBe(1000)
  })
})

describe('rows merged, rows of unknown outcome, errors by table', () => {
  it('have their own series, each moved by exactly what the batch reported', async () => {
    const m = new PrometheusMetrics()
    const kv = defineSchema({
      table: 'kv',
      columns: ['k', 'v'],
      strategy: 'replace',
      conflictColumns: ['k'],
    })
    // A sink that merged 2 rows of the batch, and lost the reply of row 0's write.
    const lost = () => markInDoubt(Object.assign(new Error('reply lost'), { code: 'ECONNRESET' }))
    const processor = new MockProcessor({
      onBatch: () => ({ deduplicated: 2, failures: [{ index: 0, error: lost() }] }),
    })
    const batch = createBatchSQL({
      executor: createExecutor(processor, { retry: { maxAttempts: 1 }, metrics: m }),
      flushSize: 5,
      metrics: m,
    })
    const acks = Array.from({ length: 5 }, (_, i) =>
      batch.submitAndWait(kv, { k: i, v: i }).then(
        () => 'ok',
        (e) => e.code,
      ),
    )
    await batch.close()
    expect(await Promise.all(acks)).toEqual(['BATCHSQL_OUTCOME_UNKNOWN', 'ok', 'ok', 'ok', 'ok'])
    const t = await m.metrics()
    const l = { database: 'mock', table: 'kv' }
    expect(value(t, 'batchsql_records_processed_total', l)).toBe(4)
    expect(value(t, 'batchsql_records_failed_total', l)).toBe(1)
    expect(value(t, 'batchsql_records_outcome_unknown_total', l)).toBe(1)
    expect(value(t, 'batchsql_records_deduplicated_total', l)).toBe(2)
    expect(value(t, 'batchsql_errors_total', { ...l, error_type: 'final:connection' })).toBe(1)
    // Series that start at 0, so that increase() sees their first event.
    for (const reason of ['closed', 'aborted', 'validation'])
      expect(value(t, 'batchsql_rejected_submits_total', { database: 'mock', reason })).toBe(0)
  })
})

describe('registries, labels and cardinality', () => {
  it('two reporters with private registries never collide', async () => {
    const a = new PrometheusMetrics()
    const b = new PrometheusMetrics()
    await batchRun(a)
    expect(value(await a.metrics(), 'batchsql_records_processed_total', { table: 'events' })).toBe(
      1000,
    )
    expect(
      value(await b.metrics(), 'batchsql_records_processed_total', { table: 'events' }),
    ).toBeUndefined()
  })

  it('a shared registry exposes the metrics next to the application’s, and is shared by two reporters', async () => {
    const registry = new Registry()
    const a = new PrometheusMetrics({ registry })
    const b = new PrometheusMetrics({ registry })
    await batchRun(a)
    await batchRun(b)
    expect(
      value(await registry.metrics(), 'batchsql_records_processed_total', { table: 'events' }),
    ).toBe(2000)
  })

  it('prefix, constant labels and buckets are configurable', async () => {
    const m = new PrometheusMetrics({
      prefix: 'ingest_',
      labels: { service: 'api' },
      buckets: { size: [10, 1000] },
    })
    await batchRun(m)
    const t = await m.metrics()
    expect(value(t, 'ingest_records_processed_total', { table: 'events', service: 'api' })).toBe(
      1000,
    )
    expect(t).toContain('ingest_batch_size_bucket{le="1000"')
    expect(t).not.toContain('batchsql_')
  })

  it('tableLabel: false keeps table names out of the labels', async () => {
    const m = new PrometheusMetrics({ tableLabel: false })
    await batchRun(m)
    const t = await m.metrics()
    expect(t).not.toContain('table="events"')
    expect(value(t, 'batchsql_records_processed_total', { table: '_all' })).toBe(1000)
  })

  it("a declared table's histograms start at 0 too, and its database's, unless already observed", async () => {
    const m = new PrometheusMetrics()
    m.setCurrentTestCase('one')
    m.declareTable('db', 'orders')
    const t = await m.metrics()
    const l = { database: 'db', table: 'orders', test_case: 'one' }
    // Histograms too (rate() of their buckets misses a series' first observations alike).
    for (const status of ['success', 'partial', 'failure'])
      expect(value(t, 'batchsql_batch_execution_duration_seconds_count', { ...l, status })).toBe(0)
    expect(value(t, 'batchsql_batch_size_count', l)).toBe(0)
    const db = { database: 'db', test_case: 'one' }
    for (const name of [
      'batchsql_flush_size_rows_count',
      'batchsql_queue_wait_seconds_count',
      'batchsql_enqueue_latency_seconds_count',
    ])
      expect(value(t, name, db)).toBe(0)
    // A per-database series observed before a table is declared is not reset by it (a flush
    // is recorded before its batches declare their tables).
    const early = new PrometheusMetrics()
    early.setCurrentTestCase('flushed')
    early.recordFlush(7, 1, 'db')
    early.declareTable('db', 'orders')
    const flushed = await early.metrics()
    expect(value(flushed, 'batchsql_flush_size_rows_sum', { database: 'db' })).toBe(7)
    expect(value(flushed, 'batchsql_queue_wait_seconds_count', { database: 'db' })).toBeUndefined()
  })

  it("a table's counters start at 0: declared, on a pipeline's binding, on each new test case", async () => {
    const m = new PrometheusMetrics()
    m.setCurrentTestCase('one')
    m.declareTable('db', 'orders')
    let t = await m.metrics()
    const l = { database: 'db', table: 'orders', test_case: 'one' }
    for (const name of [
      'batchsql_records_processed_total',
      'batchsql_records_failed_total',
      'batchsql_records_outcome_unknown_total',
      'batchsql_records_deduplicated_total',
    ])
      expect(value(t, name, l)).toBe(0)
    for (const status of ['success', 'partial', 'failure'])
      expect(value(t, 'batchsql_batch_execution_total', { ...l, status })).toBe(0)
    expect(value(t, 'batchsql_errors_total', { ...l, error_type: 'final:deadlock' })).toBe(0)
    expect(value(t, 'batchsql_errors_total', { ...l, error_type: 'retry:unknown' })).toBe(0)
    // Reported on under one test case, a table starts at 0 under the next one.
    m.recordError('db', 'lines', 'retry:deadlock')
    m.setCurrentTestCase('two')
    t = await m.metrics()
    for (const table of ['orders', 'lines'])
      expect(value(t, 'batchsql_records_processed_total', { ...l, table, test_case: 'two' })).toBe(
        0,
      )
    expect(
      value(t, 'batchsql_errors_total', {
        ...l,
        table: 'lines',
        test_case: 'one',
        error_type: 'retry:deadlock',
      }),
    ).toBe(1)
    // Only the tables reported on under the test case that ended: `orders` and `lines` were
    // only carried over into `two`, so `three` starts `items` alone.
    m.recordError('db', 'items', 'retry:deadlock')
    m.setCurrentTestCase('three')
    t = await m.metrics()
    const three = { ...l, test_case: 'three' }
    expect(value(t, 'batchsql_records_processed_total', { ...three, table: 'items' })).toBe(0)
    expect(
      value(t, 'batchsql_records_processed_total', { ...three, table: 'lines' }),
    ).toBeUndefined()
    expect(value(t, 'batchsql_records_processed_total', three)).toBeUndefined()
    // Without table names, one `_all` series per database, from the pipeline's binding.
    const all = new PrometheusMetrics({ tableLabel: false })
    all.bindGauges('db', { queueLength: () => 0, inFlightBatches: () => 0 })
    expect(
      value(await all.metrics(), 'batchsql_records_processed_total', {
        database: 'db',
        table: '_all',
      }),
    ).toBe(0)
  })

  it('row values never become labels', async () => {
    const m = new PrometheusMetrics()
    await batchRun(m)
    const t = await m.metrics()
    expect(t).not.toMatch(/kind="|"late"|"k"/)
  })
})

describe('a registry shared with other reporters and with the application', () => {
  it('serves every pipeline of every reporter, in both formats, with the application’s metrics', async () => {
    const registry = new Registry()
    const app = new (await import('prom-client')).Counter({
      name: 'app_requests_total',
      help: 'requests',
      registers: [registry],
    })
    app.inc(2)
    const m1 = new PrometheusMetrics({ registry, defaultMetrics: true })
    // A second reporter on the same registry: no double registration of default metrics.
    const m2 = new PrometheusMetrics({ registry, defaultMetrics: true })
    m1.bindGauges('db1', { queueLength: () => 3, inFlightBatches: () => 1 })
    m2.bindGauges('db2', { queueLength: () => 7, inFlightBatches: () => 2 })
    for (const om of [false, true]) {
      for (const m of [m1, m2]) {
        const text = await m.metrics(om)
        expect(value(text, 'batchsql_queue_length', { database: 'db1' }), `om=${om}`).toBe(3)
        expect(value(text, 'batchsql_queue_length', { database: 'db2' }), `om=${om}`).toBe(7)
        expect(text, `om=${om}`).toMatch(/^app_requests_total(\{\})? 2$/m)
      }
    }
    expect(m1.contentType(true)).toMatch(/openmetrics/)
    expect(await m1.metrics(true)).toMatch(/# EOF\n$/)
  })
})

describe('reporters sharing a registry with other prefixes or labels', () => {
  it('each prefix reads only its own pipelines', async () => {
    const registry = new Registry()
    const a = new PrometheusMetrics({ registry, prefix: 'audit_' })
    new PrometheusMetrics({ registry, prefix: 'ingest_' })
    a.setConcurrencyLimit('db', 4)
    a.bindGauges('db', { queueLength: () => 5, inFlightBatches: () => 3 })
    const text = await registry.metrics()
    expect(value(text, 'audit_inflight_batches', { database: 'db' })).toBe(3)
    expect(value(text, 'audit_executor_concurrency_limit', { database: 'db' })).toBe(4)
    expect(value(text, 'ingest_inflight_batches', { database: 'db' })).toBeUndefined()
    expect(value(text, 'ingest_queue_length', { database: 'db' })).toBeUndefined()
    expect(value(text, 'ingest_executor_concurrency_limit', { database: 'db' })).toBeUndefined()
  })

  it('queue gauges carry the constant labels of the reporter each pipeline is bound to', async () => {
    const registry = new Registry()
    const a = new PrometheusMetrics({ registry, labels: { service: 'a' } })
    const b = new PrometheusMetrics({ registry, labels: { service: 'b' } })
    a.setConcurrencyLimit('db', 4)
    a.bindGauges('db', { queueLength: () => 5, inFlightBatches: () => 1 })
    b.setConcurrencyLimit('db', 2)
    b.bindGauges('db', { queueLength: () => 7, inFlightBatches: () => 2 })
    const text = await registry.metrics()
    for (const [service, queue, inflight, limit] of [
      ['a', 5, 1, 4],
      ['b', 7, 2, 2],
    ] as const) {
      const l = { database: 'db', service }
      expect(value(text, 'batchsql_queue_length', l), service).toBe(queue)
      expect(value(text, 'batchsql_inflight_batches', l), service).toBe(inflight)
      expect(value(text, 'batchsql_executor_concurrency_limit', l), service).toBe(limit)
    }
  })

  it('after registry.clear(), a reporter with other label names starts afresh', async () => {
    const registry = new Registry()
    const a = new PrometheusMetrics({ registry })
    a.setConcurrencyLimit('db1', 4)
    a.bindGauges('db1', { queueLength: () => 3, inFlightBatches: () => 1 })
    registry.clear()
    const b = new PrometheusMetrics({
      registry,
      labels: { service: 'b' },
      buckets: { size: undefined },
    })
    b.bindGauges('db2', { queueLength: () => 7, inFlightBatches: () => 2 })
    // The old series (no `service` label) would make every scrape of the new gauges throw.
    const text = await registry.metrics()
    expect(value(text, 'batchsql_queue_length', { database: 'db2', service: 'b' })).toBe(7)
    expect(value(text, 'batchsql_queue_length', { database: 'db1' })).toBeUndefined()
  })

  it('other constant label names or buckets on the same registry and prefix are refused at construction', () => {
    const registry = new Registry()
    new PrometheusMetrics({ registry })
    // prom-client would refuse every observation of the second reporter, silently dropped.
    expect(() => new PrometheusMetrics({ registry, labels: { service: 'b' } })).toThrow(
      expect.objectContaining({ code: 'BATCHSQL_INVALID_CONFIG' }),
    )
    expect(() => new PrometheusMetrics({ registry, buckets: { size: [7, 77] } })).toThrow(
      expect.objectContaining({ code: 'BATCHSQL_INVALID_CONFIG' }),
    )
    // A constructor refused half way leaves nothing of its own in the registry: only the
    // conflicting metric found there, so a correct reporter could still take the rest.
    const shared = new Registry()
    new Counter({ name: 'batchsql_dropped_errors_total', help: 'x', registers: [shared] })
    expect(() => new PrometheusMetrics({ registry: shared })).toThrow(
      expect.objectContaining({ code: 'BATCHSQL_INVALID_CONFIG' }),
    )
    expect(shared.getMetricsAsArray().map((m) => m.name)).toEqual(['batchsql_dropped_errors_total'])
    // Another prefix has metrics of its own: any labels and buckets.
    expect(
      () => new PrometheusMetrics({ registry, prefix: 'b_', labels: { service: 'b' } }),
    ).not.toThrow()
  })
})

describe('a closed pipeline', () => {
  it('is no longer read by the reporter; its database stays, at 0', async () => {
    const m = new PrometheusMetrics({ registry: new Registry() })
    const executor = createExecutor(new MockProcessor())
    let reads = 0
    const b = createBatchSQL({ executor, metrics: m, flushInterval: 60_000 })
    // A second pipeline of the same database, still open, with a row waiting.
    const other = createBatchSQL({
      executor: createExecutor(new MockProcessor()),
      metrics: m,
      flushInterval: 60_000,
    })
    await other.submit(defineSchema({ table: 't', columns: ['id'] }), { id: 1 })
    const spy = { queueLength: () => reads++, inFlightBatches: () => 0 }
    m.bindGauges('mock', spy)
    m.unbindGauges(spy)
    await b.close()
    const text = await m.metrics()
    expect(reads).toBe(0)
    expect(value(text, 'batchsql_queue_length', { database: 'mock' })).toBe(1)
    await other.close()
    expect(value(await m.metrics(), 'batchsql_queue_length', { database: 'mock' })).toBe(0)
  })
})

describe('constant labels', () => {
  it('may not take a label name of the reporter’s own', () => {
    expect(() => new PrometheusMetrics({ labels: { database: 'x' } })).toThrow(
      expect.objectContaining({ code: 'BATCHSQL_INVALID_CONFIG' }),
    )
    expect(() => new PrometheusMetrics({ labels: { service: 'ingest' } })).not.toThrow()
  })
})

describe('options', () => {
  it('a misspelt or invalid option is a BATCHSQL_INVALID_CONFIG error, never ignored', () => {
    const bad: unknown[] = [
      { prefx: 'x_' },
      { prefix: 'my-app_' },
      { labels: { 'team-name': 'a' } },
      { labels: { __reserved: 'a' } },
      { labels: { le: 'a' } }, // prom-client's own plain Error, before
      { labels: { quantile: 'a' } },
      { labels: { service: 1 } },
      { buckets: { durations: [1, 2] } },
      { buckets: { size: [10, 5] } },
      { buckets: { latency: [] } },
      { tableLabel: 'no' },
    ]
    for (const options of bad)
      expect(() => new PrometheusMetrics(options as never), JSON.stringify(options)).toThrow(
        expect.objectContaining({ code: 'BATCHSQL_INVALID_CONFIG' }),
      )
    // Valid ones still pass, an empty prefix and colons included.
    expect(
      () =>
        new PrometheusMetrics({
          prefix: 'svc:batchsql_',
          labels: { service: 'ingest' },
          buckets: { size: [1, 10] },
          tableLabel: false,
        }),
    ).not.toThrow()
    expect(() => new PrometheusMetrics({ prefix: '' })).not.toThrow()
  })
})
