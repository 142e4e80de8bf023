/**
 * How batch size changes BatchSQL's INSERT and COPY paths: narrow rows, 1 producer,
 * 4 batches in flight, flushSize 500 / 2,000 / 5,000 (BENCH_SIZES=500,2000,... to change). Each
 * batch is one statement and one commit, so COPY needs larger batches than INSERT to pay off.
 * Usage (after `pnpm build`): node bench/copy-batch-size.mjs   (BENCH_ROWS, default 500,000)
 */
import { defineSchema } from '@batchsql/core'
import pg from 'pg'
import { createPostgresBatchSQL } from '../dist/index.js'

const URL = process.env.POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const ROWS = Number(process.env.BENCH_ROWS ?? 500_000)
const pool = new pg.Pool({ connectionString: URL, max: 4 })

console.log('| flushSize | INSERT rows/s | COPY rows/s |\n|---|---|---|')
const SIZES = (process.env.BENCH_SIZES ?? '500,2000,5000').split(',').map(Number)
for (const flushSize of SIZES) {
  const rate = {}
  for (const copy of ['never', 'always']) {
    const table = `bench_copy_size_${process.pid}_${copy}_${flushSize}`
    await pool.query(
      `CREATE TABLE ${table} (id BIGINT PRIMARY KEY, name VARCHAR(64), score DOUBLE PRECISION)`,
    )
    try {
      const schema = defineSchema({ table, columns: ['id', 'name', 'score'] })
      const batch = createPostgresBatchSQL(pool, {
        flushSize,
        bufferSize: Math.max(10_000, flushSize * 8),
        concurrency: 4,
        copy,
      })
      const t0 = performance.now()
      for (let i = 0; i < ROWS; i++)
        await batch.submit(schema, { id: i, name: `name-${i}`, score: i * 1.5 })
      const result = await batch.close()
      rate[copy] = ROWS / ((performance.now() - t0) / 1000)
      const { rows } = await pool.query(`SELECT count(*)::int AS n FROM ${table}`)
      if (result.failed > 0 || rows[0].n !== ROWS) throw new Error(`${copy}: rows lost`)
    } finally {
      await pool.query(`DROP TABLE ${table}`)
    }
  }
  const fmt = (n) => Math.round(n).toLocaleString('en-US')
  console.log(`| ${flushSize} | ${fmt(rate.never)} | ${fmt(rate.always)} |`)
}
await pool.end()
