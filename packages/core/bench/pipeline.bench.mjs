// Submit-to-flush throughput of the pipeline into a no-op executor (issue: >= 5 M rows/s).
// Usage: pnpm --filter @batchsql/core bench   (ROWS=2000000 to change the row count)
import { batchSize, createBatchSQL, createExecutor, defineSchema } from '../dist/index.js'

const ROWS = Number(process.env.ROWS ?? 2_000_000)
const schema = defineSchema({ table: 'events', columns: ['id', 'kind', 'value'] })

const noopExecutor = {
  name: 'noop',
  concurrency: 4,
  // batchSize(), not batch.rows.length: a flat batch builds its Request objects only if asked.
  execute: async (batch) => ({ committed: batchSize(batch), failures: [], attempts: 1 }),
}
const noopProcessor = { name: 'noop', process: async () => undefined }

async function run(label, executor, producers) {
  const b = createBatchSQL({ executor, flushSize: 500, bufferSize: 10_000, flushInterval: 100 })
  const per = Math.floor(ROWS / producers)
  const t0 = process.hrtime.bigint()
  await Promise.all(
    Array.from({ length: producers }, async (_, p) => {
      const base = p * per
      for (let i = 0; i < per; i++)
        await b.submit(schema, { id: base + i, kind: 'click', value: i })
    }),
  )
  const r = await b.close()
  const ns = Number(process.hrtime.bigint() - t0)
  if (r.committed !== per * producers) throw new Error(`lost rows: ${r.committed}`)
  return {
    label,
    producers,
    rows: per * producers,
    rowsPerSec: Math.round((per * producers) / (ns / 1e9)),
    nsPerRow: +(ns / (per * producers)).toFixed(1),
  }
}

const results = []
for (const round of [0, 1]) {
  for (const producers of [1, 10]) {
    const a = await run('no-op executor', noopExecutor, producers)
    const b = await run(
      'RetryingExecutor + no-op processor',
      createExecutor(noopProcessor),
      producers,
    )
    if (round === 1) results.push(a, b) // round 0 warms up the JIT
  }
}
console.log(`| executor | producers | rows | rows/s | ns/row |\n|---|---|---|---|---|`)
for (const r of results)
  console.log(
    `| ${r.label} | ${r.producers} | ${r.rows} | ${r.rowsPerSec.toLocaleString('en-US')} | ${r.nsPerRow} |`,
  )
