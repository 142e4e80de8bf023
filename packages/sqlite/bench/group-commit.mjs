/**
 * Group commit on against off, one run: a BatchSQL by file name (WAL), flushSize 500, each
 * producer awaiting `submit()` row by row, on narrow rows and upserts (every 10th row repeats
 * a key 1,001 rows back), 1 and 10 producers, with `synchronous = NORMAL` (BatchSQL's default
 * for a file) and `synchronous = FULL` (a Database of yours). Usage (after `pnpm build`):
 *   node --expose-gc bench/group-commit.mjs    (BENCH_ROWS=500000, BENCH_ROUNDS=5 by default;
 *   BENCH_CASES=upsert runs only the cases whose name contains that text)
 *
 * Every round runs off and on back to back (order alternating by round) on a fresh file; the
 * ratio is the median over the rounds of on / off, lowest and highest after it.
 */
import { rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { defineSchema } from '@batchsql/core'
import Database from 'better-sqlite3'
import { createSqliteBatchSQL } from '../dist/index.js'
import { ratio } from './ratio.mjs'

const ROWS = Number(process.env.BENCH_ROWS ?? 500_000)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5)
// FULL waits for an fsync per commit: fewer rows keep a run short.
const FULL_ROWS = Math.max(1, Math.round(ROWS / 5))
const collect = () => globalThis.gc?.()

const cases = [
  { name: 'narrow, NORMAL', upsert: false, full: false, rows: ROWS },
  { name: 'upsert, NORMAL', upsert: true, full: false, rows: ROWS },
  { name: 'narrow, FULL', upsert: false, full: true, rows: FULL_ROWS },
].filter((c) => c.name.includes(process.env.BENCH_CASES ?? ''))

async function run({ upsert, full, rows }, producers, groupCommit) {
  collect()
  const file = join(tmpdir(), `batchsql-group-commit-${process.pid}.db`)
  const setup = new Database(file)
  setup.pragma('journal_mode = WAL')
  setup.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, score REAL)')
  let own
  if (full) {
    own = new Database(file)
    own.pragma('synchronous = FULL')
  }
  const schema = defineSchema({
    table: 't',
    columns: ['id', 'name', 'score'],
    ...(upsert ? { strategy: 'update', conflictColumns: ['id'] } : {}),
  })
  const batch = createSqliteBatchSQL(own ?? file, {
    flushSize: 500,
    bufferSize: 10_000,
    groupCommit,
  })
  const per = Math.ceil(rows / producers)
  const t0 = performance.now()
  await Promise.all(
    Array.from({ length: producers }, async (_, p) => {
      for (let i = p * per; i < Math.min(rows, (p + 1) * per); i++) {
        const id = upsert && i % 10 === 9 && i >= 1000 ? i - 1001 : i
        await batch.submit(schema, { id, name: `name-${i}`, score: i / 7 })
      }
    }),
  )
  const result = await batch.close()
  const ms = performance.now() - t0
  if (result.failed > 0) throw new Error(`${result.failed} rows failed`)
  own?.close()
  setup.close()
  for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true })
  return rows / (ms / 1000)
}

console.log(
  `SQLite group commit on / off, ${ROWS.toLocaleString('en-US')} rows (FULL: ${FULL_ROWS.toLocaleString('en-US')}), ${ROUNDS} rounds` +
    `${globalThis.gc ? '' : ' (no --expose-gc: no GC between runs)'}; median of the per-round ratios (lowest–highest)`,
)
console.log('| case | 1 producer | 10 producers |')
console.log('|---|---|---|')
for (const c of cases) {
  const cells = []
  for (const producers of [1, 10]) {
    const ratios = []
    for (let r = 0; r < ROUNDS; r++) {
      // Even rounds run off first, odd rounds on first.
      const onFirst = r % 2 === 1
      const a = await run(c, producers, onFirst)
      const b = await run(c, producers, !onFirst)
      const [on, off] = onFirst ? [a, b] : [b, a]
      ratios.push(on / off)
    }
    cells.push(ratio(ratios))
  }
  console.log(`| ${c.name} | ${cells.join(' | ')} |`)
}
