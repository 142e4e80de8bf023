// Why plain inserts say OR ROLLBACK (src/adapter.ts): bare better-sqlite3, 500-row INSERTs of
// rows interleaved from ten producers (as ten producers awaiting submit() deliver them), WAL
// with synchronous = NORMAL on a file, one statement per transaction, three ways:
//   auto      autocommit (what BatchSQL did before every batch got its own BEGIN/COMMIT)
//   abort     BEGIN; INSERT; COMMIT (the default OR ABORT: SQLite keeps a statement journal)
//   rollback  BEGIN; INSERT OR ROLLBACK; COMMIT (what the adapter runs now)
// Prints the median wall time of each over alternating rounds:
//   node packages/sqlite/bench/statement-journal.mjs [rounds] [producers]
import { rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const Database = createRequire(import.meta.url)('better-sqlite3')
const ROUNDS = Number(process.argv[2] ?? 7)
const PRODUCERS = Number(process.argv[3] ?? 10)
const ROWS = 600_000
const BATCH = 500
const file = join(tmpdir(), `batchsql-statement-journal-${process.pid}.db`)
const remove = () => {
  for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true })
}

function run(mode) {
  remove()
  const db = new Database(file)
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  db.exec('CREATE TABLE t (id BIGINT PRIMARY KEY, name TEXT, value REAL)')
  const or = mode === 'rollback' ? 'OR ROLLBACK' : ''
  const tuples = Array(BATCH).fill('(?, ?, ?)').join(', ')
  const insert = db.prepare(`INSERT ${or} INTO t (id, name, value) VALUES ${tuples}`)
  const begin = db.prepare('BEGIN')
  const commit = db.prepare('COMMIT')
  const per = ROWS / PRODUCERS
  const values = []
  const t0 = performance.now()
  for (let i = 0; i < per; i++) {
    for (let p = 0; p < PRODUCERS; p++) {
      const id = p * per + i
      values.push(id, `n${id}`, id * 0.5)
      if (values.length < BATCH * 3) continue
      if (mode === 'auto') insert.run(values)
      else {
        begin.run()
        insert.run(values)
        commit.run()
      }
      values.length = 0
    }
  }
  const ms = performance.now() - t0
  db.close()
  remove()
  return ms
}

const modes = ['auto', 'abort', 'rollback']
const times = Object.fromEntries(modes.map((m) => [m, []]))
for (let r = 0; r < ROUNDS; r++)
  for (const m of r % 2 === 0 ? modes : [...modes].reverse()) times[m].push(run(m))
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1]
for (const m of modes)
  console.log(
    `${m.padEnd(8)} median ${median(times[m]).toFixed(0)} ms  (${times[m].map((t) => t.toFixed(0)).join(', ')})`,
  )
