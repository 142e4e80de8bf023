/**
 * SQLite throughput, one run: BatchSQL (one `await submit()` per row, and `submitMany()` of
 * 500 rows) against a hand-written loop of the same multi-row INSERT statements on bare
 * better-sqlite3 (cached prepared statement, one transaction per batch), as ratios; plus a
 * sweep of rows per statement. Usage (after `pnpm build`):
 *   node bench/throughput.mjs            (BENCH_ROWS=200000 by default)
 */
import { defineSchema } from '@batchsql/core'
import Database from 'better-sqlite3'
import { createSqliteBatchSQL } from '../dist/index.js'

const ROWS = Number(process.env.BENCH_ROWS ?? 200_000)
const BATCH = 500
const shapes = {
  narrow: ['id', 'name', 'value'],
  wide: ['id', ...Array.from({ length: 19 }, (_, i) => `c${i}`)],
}
// Object.fromEntries, not assignments in a loop: V8 turns a 20-column row built by computed
// keys into a dictionary-mode object, which no JSON payload or object literal is.
const rowOf = (cols, i) =>
  Object.fromEntries(cols.map((c) => [c, c === 'id' ? i : c === 'value' ? i * 1.5 : `${c}-${i}`]))

function fresh(cols) {
  const db = new Database(':memory:')
  db.exec(
    `CREATE TABLE t (${cols.map((c) => (c === 'id' ? 'id INTEGER PRIMARY KEY' : `"${c}"`)).join(', ')})`,
  )
  return db
}

function baseline(cols, rows, perStatement = BATCH) {
  const db = fresh(cols)
  const data = Array.from({ length: rows }, (_, i) => rowOf(cols, i))
  const t0 = performance.now()
  const sqlFor = (n) =>
    `INSERT INTO t (${cols.map((c) => `"${c}"`).join(', ')}) VALUES ${Array(n)
      .fill(`(${cols.map(() => '?').join(', ')})`)
      .join(', ')}`
  const stmts = new Map()
  const insert = db.transaction((chunk) => {
    let s = stmts.get(chunk.length)
    if (!s) {
      s = db.prepare(sqlFor(chunk.length))
      stmts.set(chunk.length, s)
    }
    const params = []
    for (const r of chunk) for (const c of cols) params.push(r[c])
    s.run(params)
  })
  for (let i = 0; i < rows; i += perStatement) insert(data.slice(i, i + perStatement))
  const ms = performance.now() - t0
  if (db.prepare('SELECT count(*) n FROM t').get().n !== rows) throw new Error('baseline lost rows')
  db.close()
  return rows / (ms / 1000)
}

async function batchsql(cols, rows, rowsPerStatement, many = false) {
  const db = fresh(cols)
  const schema = defineSchema({ table: 't', columns: cols })
  const data = Array.from({ length: rows }, (_, i) => rowOf(cols, i))
  const t0 = performance.now()
  const batch = createSqliteBatchSQL(db, { flushSize: BATCH, bufferSize: 10_000, rowsPerStatement })
  if (many) {
    for (let i = 0; i < rows; i += BATCH) await batch.submitMany(schema, data.slice(i, i + BATCH))
  } else {
    for (const r of data) await batch.submit(schema, r)
  }
  await batch.close()
  const ms = performance.now() - t0
  if (db.prepare('SELECT count(*) n FROM t').get().n !== rows) throw new Error('BatchSQL lost rows')
  db.close()
  return rows / (ms / 1000)
}

const fmt = (n) => Math.round(n).toLocaleString('en-US')
console.log(
  `SQLite (better-sqlite3, :memory:), ${ROWS.toLocaleString('en-US')} rows, flushSize ${BATCH}, best of 3 alternating runs`,
)
console.log(
  '| workload | bare driver rows/s | BatchSQL submit() rows/s | ratio | BatchSQL submitMany() rows/s | ratio |',
)
console.log('|---|---|---|---|---|---|')
for (const [name, cols] of Object.entries(shapes)) {
  let a = 0
  let b = 0
  let m = 0
  for (let i = 0; i < 3; i++) {
    a = Math.max(a, baseline(cols, ROWS))
    b = Math.max(b, await batchsql(cols, ROWS))
    m = Math.max(m, await batchsql(cols, ROWS, undefined, true))
  }
  console.log(
    `| ${name} (${cols.length} columns) | ${fmt(a)} | ${fmt(b)} | ${(b / a).toFixed(2)}x | ${fmt(m)} | ${(m / a).toFixed(2)}x |`,
  )
}
console.log('\nRows per statement (bare driver, narrow rows, one transaction per statement):')
for (const n of [50, 100, 250, 500, 1000, 2000, 5000]) {
  let best = 0
  for (let i = 0; i < 3; i++) best = Math.max(best, baseline(shapes.narrow, ROWS, n))
  console.log(`  ${String(n).padStart(5)} rows/statement: ${fmt(best)} rows/s`)
}
