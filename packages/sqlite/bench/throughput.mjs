/**
 * SQLite throughput, one run: BatchSQL (one `await submit()` per row, and `submitMany()` of
 * 500 rows) against a hand-written loop of the same multi-row INSERT statements on bare
 * better-sqlite3 (cached prepared statement, one transaction per batch), as ratios; plus a
 * sweep of rows per statement. Usage (after `pnpm build`):
 *   node --expose-gc bench/throughput.mjs    (BENCH_ROWS=200000, BENCH_ROUNDS=7 by default)
 *
 * Method, because two runs of one case on a small shared machine differ by up to 40 %: every
 * round runs the three contenders back to back (the order rotating by round) on the same
 * pre-built rows, after a full GC, so neither building rows nor the garbage of the previous
 * run lands in a timed section; the ratio is the median over the rounds of each run's ratio
 * to the bare run of its round, with the lowest and highest after it.
 */
import { defineSchema } from '@batchsql/core'
import Database from 'better-sqlite3'
import { createSqliteBatchSQL } from '../dist/index.js'
import { ratio } from './ratio.mjs'

const ROWS = Number(process.env.BENCH_ROWS ?? 200_000)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7)
const BATCH = 500
const shapes = {
  narrow: ['id', 'name', 'value'],
  wide: ['id', ...Array.from({ length: 19 }, (_, i) => `c${i}`)],
}
// Object.fromEntries, not assignments in a loop: V8 turns a 20-column row built by computed
// keys into a dictionary-mode object, which no JSON payload or object literal is.
const rowOf = (cols, i) =>
  Object.fromEntries(cols.map((c) => [c, c === 'id' ? i : c === 'value' ? i * 1.5 : `${c}-${i}`]))
// Without --expose-gc the runs still happen, only noisier.
const collect = () => globalThis.gc?.()

function fresh(cols) {
  const db = new Database(':memory:')
  db.exec(
    `CREATE TABLE t (${cols.map((c) => (c === 'id' ? 'id INTEGER PRIMARY KEY' : `"${c}"`)).join(', ')})`,
  )
  return db
}

function check(db, rows, who) {
  if (db.prepare('SELECT count(*) n FROM t').get().n !== rows) throw new Error(`${who} lost rows`)
  db.close()
}

function baseline(cols, data, perStatement = BATCH) {
  collect()
  const db = fresh(cols)
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
  for (let i = 0; i < data.length; i += perStatement) insert(data.slice(i, i + perStatement))
  const ms = performance.now() - t0
  check(db, data.length, 'baseline')
  return data.length / (ms / 1000)
}

async function batchsql(cols, data, many) {
  collect()
  const db = fresh(cols)
  const schema = defineSchema({ table: 't', columns: cols })
  const t0 = performance.now()
  const batch = createSqliteBatchSQL(db, { flushSize: BATCH, bufferSize: 10_000 })
  if (many) {
    for (let i = 0; i < data.length; i += BATCH)
      await batch.submitMany(schema, data.slice(i, i + BATCH))
  } else {
    for (const r of data) await batch.submit(schema, r)
  }
  await batch.close()
  const ms = performance.now() - t0
  check(db, data.length, 'BatchSQL')
  return data.length / (ms / 1000)
}

const fmt = (n) => Math.round(n).toLocaleString('en-US')

console.log(
  `SQLite (better-sqlite3, :memory:), ${ROWS.toLocaleString('en-US')} rows, flushSize ${BATCH}, ${ROUNDS} rounds` +
    `${globalThis.gc ? '' : ' (no --expose-gc: no GC between runs)'}; rows/s: best run; ratio: median of the` +
    ' per-round ratios to the bare run of the round (lowest–highest)',
)
console.log(
  '| workload | bare driver rows/s | BatchSQL submit() rows/s | ratio | BatchSQL submitMany() rows/s | ratio |',
)
console.log('|---|---|---|---|---|---|')
// Built once per shape and shared by every run (and the sweep below): read, never written.
const dataOf = Object.fromEntries(
  Object.entries(shapes).map(([name, cols]) => [
    name,
    Array.from({ length: ROWS }, (_, i) => rowOf(cols, i)),
  ]),
)
for (const [name, cols] of Object.entries(shapes)) {
  const data = dataOf[name]
  const runs = { bare: [], one: [], many: [] }
  const contenders = {
    bare: () => baseline(cols, data),
    one: () => batchsql(cols, data, false),
    many: () => batchsql(cols, data, true),
  }
  const order = Object.keys(contenders)
  for (let r = 0; r < ROUNDS; r++) {
    for (let k = 0; k < order.length; k++) {
      const who = order[(r + k) % order.length]
      runs[who].push(await contenders[who]())
    }
  }
  const vs = (xs) => xs.map((x, r) => x / runs.bare[r])
  console.log(
    `| ${name} (${cols.length} columns) | ${fmt(Math.max(...runs.bare))} | ${fmt(Math.max(...runs.one))} | ${ratio(vs(runs.one))} | ${fmt(Math.max(...runs.many))} | ${ratio(vs(runs.many))} |`,
  )
}
console.log(
  '\nRows per statement (bare driver, narrow rows, one transaction per statement, best of 3):',
)
for (const n of [50, 100, 250, 500, 1000, 2000, 5000]) {
  let best = 0
  for (let i = 0; i < 3; i++) best = Math.max(best, baseline(shapes.narrow, dataOf.narrow, n))
  console.log(`  ${String(n).padStart(5)} rows/statement: ${fmt(best)} rows/s`)
}
