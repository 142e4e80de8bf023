/**
 * Pipeline throughput with PrometheusMetrics against the no-op reporter, same run, same
 * settings (flushSize 500, a processor that writes nothing), alternating, best of 3.
 * Usage (after `pnpm build`): node bench/reporter.bench.mjs   (BENCH_ROWS, default 1,000,000)
 */
import { createBatchSQL, createExecutor, defineSchema, NoopMetricsReporter } from '@batchsql/core'
import { PrometheusMetrics } from '../dist/index.js'

const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000)
const events = defineSchema({ table: 'events', columns: { id: 'int', kind: 'string' } })
const sink = { name: 'bench', async process() {} }

async function run(metrics) {
  const batch = createBatchSQL({
    executor: createExecutor(sink, { metrics }),
    flushSize: 500,
    bufferSize: 10_000,
    metrics,
  })
  const t0 = performance.now()
  for (let i = 0; i < ROWS; i++) await batch.submit(events, { id: i, kind: 'click' })
  await batch.close()
  return ROWS / ((performance.now() - t0) / 1000)
}

let noop = 0
let prom = 0
for (let i = 0; i < 3; i++) {
  noop = Math.max(noop, await run(new NoopMetricsReporter()))
  prom = Math.max(prom, await run(new PrometheusMetrics({ defaultMetrics: true })))
}
const fmt = (n) => Math.round(n).toLocaleString('en-US')
console.log(`rows: ${fmt(ROWS)}, flushSize 500, best of 3 alternating runs`)
console.log(
  `| reporter | rows/s |\n|---|---|\n| NoopMetricsReporter | ${fmt(noop)} |\n| PrometheusMetrics | ${fmt(prom)} |`,
)
console.log(
  `ratio: ${(prom / noop).toFixed(3)} (${((1 - prom / noop) * 100).toFixed(1)}% slower; goal <= 5%)`,
)
