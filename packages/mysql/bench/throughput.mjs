/**
 * MariaDB / MySQL throughput, one run: BatchSQL against a hand-written loop of the same
 * multi-row INSERTs on bare mysql2 (4 statements in flight, like BatchSQL's concurrency), as a
 * ratio; plus a sweep of rows per statement on the bare driver.
 * Usage (after `pnpm build`): node bench/throughput.mjs   (BENCH_ROWS, default 200,000)
 */
import { defineSchema } from '@batchsql/core'
import mysql from 'mysql2'
import { createMysqlBatchSQL } from '../dist/index.js'

const URL = process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test'
const ROWS = Number(process.env.BENCH_ROWS ?? 200_000)
const IN_FLIGHT = 4
const FLUSH = 1000
const shapes = {
  narrow: ['id', 'name', 'value'],
  wide: ['id', ...Array.from({ length: 19 }, (_, i) => `c${i}`)],
}
const typeOf = (c) => (c === 'id' ? 'BIGINT PRIMARY KEY' : c === 'value' ? 'DOUBLE' : 'VARCHAR(64)')
// Object.fromEntries, not assignments in a loop: V8 turns a 20-column row built by computed
// keys into a dictionary-mode object, which no JSON payload or object literal is.
const rowOf = (cols, i) =>
  Object.fromEntries(cols.map((c) => [c, c === 'id' ? i : c === 'value' ? i * 1.5 : `${c}-${i}`]))
const pool = mysql.createPool({ uri: URL, connectionLimit: IN_FLIGHT + 1 })
const q = pool.promise()

async function fresh(cols) {
  await q.query('DROP TABLE IF EXISTS bench_my_t')
  await q.query(
    `CREATE TABLE bench_my_t (${cols.map((c) => `\`${c}\` ${typeOf(c)}`).join(', ')}) ENGINE=InnoDB`,
  )
}
async function check(rows) {
  const [r] = await q.query('SELECT COUNT(*) AS n FROM bench_my_t')
  if (Number(r[0].n) !== rows) throw new Error(`lost rows: ${r[0].n}/${rows}`)
}

async function baseline(cols, rows, perStatement = FLUSH) {
  await fresh(cols)
  const data = Array.from({ length: rows }, (_, i) => rowOf(cols, i))
  const tuple = `(${cols.map(() => '?').join(', ')})`
  const texts = new Map()
  const t0 = performance.now()
  let next = 0
  const worker = async () => {
    while (next < rows) {
      const start = next
      next += perStatement
      const chunk = data.slice(start, start + perStatement)
      let text = texts.get(chunk.length)
      if (!text) {
        text = `INSERT INTO bench_my_t (${cols.map((c) => `\`${c}\``).join(', ')}) VALUES ${Array(chunk.length).fill(tuple).join(', ')}`
        texts.set(chunk.length, text)
      }
      const params = []
      for (const r of chunk) for (const c of cols) params.push(r[c])
      await q.query(text, params)
    }
  }
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker))
  const s = (performance.now() - t0) / 1000
  await check(rows)
  return rows / s
}

async function batchsql(cols, rows) {
  await fresh(cols)
  const schema = defineSchema({ table: 'bench_my_t', columns: cols })
  const data = Array.from({ length: rows }, (_, i) => rowOf(cols, i))
  const t0 = performance.now()
  const batch = createMysqlBatchSQL(pool, {
    flushSize: FLUSH,
    bufferSize: 20_000,
    concurrency: IN_FLIGHT,
  })
  for (const r of data) await batch.submit(schema, r)
  await batch.close()
  const s = (performance.now() - t0) / 1000
  await check(rows)
  return rows / s
}

const fmt = (n) => Math.round(n).toLocaleString('en-US')
console.log(
  `MariaDB 10.11, ${fmt(ROWS)} rows per run, flushSize ${FLUSH}, ${IN_FLIGHT} in flight, best of 3 alternating runs`,
)
console.log('| workload | bare mysql2 rows/s | BatchSQL rows/s | ratio |')
console.log('|---|---|---|---|')
for (const [name, cols] of Object.entries(shapes)) {
  let a = 0
  let b = 0
  for (let i = 0; i < 3; i++) {
    a = Math.max(a, await baseline(cols, ROWS))
    b = Math.max(b, await batchsql(cols, ROWS))
  }
  console.log(
    `| ${name} (${cols.length} columns) | ${fmt(a)} | ${fmt(b)} | ${(b / a).toFixed(2)}x |`,
  )
}
if (process.env.BENCH_SWEEP !== '0') {
  console.log('\nRows per statement (bare mysql2, narrow rows, 4 in flight):')
  for (const n of [100, 250, 500, 1000, 2000, 5000]) {
    let best = 0
    for (let i = 0; i < 2; i++) best = Math.max(best, await baseline(shapes.narrow, ROWS, n))
    console.log(`  ${String(n).padStart(5)} rows/statement: ${fmt(best)} rows/s`)
  }
}
await q.query('DROP TABLE IF EXISTS bench_my_t')
pool.end()
