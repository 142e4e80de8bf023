/**
 * What one `await` per row costs by itself, on the workload where BatchSQL's `submit()` is
 * furthest from the bare loop (SQLite `:memory:`, narrow rows, ~0.8 µs a row): the same bare
 * loop of 500-row INSERTs (cached prepared statement), once as is and once awaiting a settled
 * promise before each row, as an application awaiting `submit()` does. Usage:
 *   node --expose-gc bench/await-floor.mjs      (BENCH_ROWS=500000, BENCH_ROUNDS=20)
 * Rounds alternate which loop runs first; the ratio is the median of the per-round ratios.
 */
import Database from 'better-sqlite3'
import { ratio } from './ratio.mjs'

const ROWS = Number(process.env.BENCH_ROWS ?? 500_000)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 20)
const data = Array.from({ length: ROWS }, (_, i) => ({ id: i, name: `name-${i}`, value: i * 1.5 }))
const sql = `INSERT INTO t ("id", "name", "value") VALUES ${Array(500).fill('(?, ?, ?)').join(', ')}`
const settled = Promise.resolve()

async function loop(awaitEachRow) {
  globalThis.gc?.()
  const db = new Database(':memory:')
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, "name", "value")')
  const insert = db.prepare(sql)
  const t0 = performance.now()
  let params = []
  for (const r of data) {
    if (awaitEachRow) await settled
    params.push(r.id, r.name, r.value)
    if (params.length === 1500) {
      insert.run(params)
      params = []
    }
  }
  const ms = performance.now() - t0
  if (db.prepare('SELECT count(*) n FROM t').get().n !== ROWS) throw new Error('rows lost')
  db.close()
  return ROWS / (ms / 1000)
}

const ratios = []
for (let r = 0; r < ROUNDS; r++) {
  let bare
  let awaited
  if (r % 2 === 0) {
    bare = await loop(false)
    awaited = await loop(true)
  } else {
    awaited = await loop(true)
    bare = await loop(false)
  }
  ratios.push(awaited / bare)
}
console.log(
  `bare loop with one await per row / without, ${ROWS.toLocaleString('en-US')} narrow rows, ${ROUNDS} rounds: ${ratio(ratios)}`,
)
