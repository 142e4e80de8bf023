import { rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createSqliteBatchSQL } from '@batchsql/sqlite'
import Database from 'better-sqlite3'
import knexFactory from 'knex'
import { schemaFor, submitAll } from './batchsql.js'
import { BATCH, type Contender, quoteList } from './contender.js'
import { chunks, makeRow, produce, type Row, uniqueName, type Workload } from './workloads.js'

function createTable(db: Database.Database, table: string, w: Workload): void {
  const cols = w.columns.map((c, i) => `"${c}" ${w.types[i]}${c === 'id' ? ' PRIMARY KEY' : ''}`)
  db.exec(`CREATE TABLE "${table}" (${cols.join(', ')})`)
}

function upsertTail(w: Workload): string {
  if (!w.upsert) return ''
  const set = w.columns.filter((c) => c !== 'id').map((c) => `"${c}" = excluded."${c}"`)
  return ` ON CONFLICT ("id") DO UPDATE SET ${set.join(', ')}`
}

/** The limit: one transaction, multi-row INSERTs of BATCH rows through one cached statement. */
export function sqliteBare(): Contender {
  const file = join(tmpdir(), `${uniqueName('bench')}.db`)
  const table = uniqueName('bench_sqlite')
  let db: Database.Database
  return {
    async setup(w) {
      db = new Database(file)
      db.pragma('journal_mode = WAL')
      createTable(db, table, w)
    },
    async run(w, rows, producers) {
      const tuple = `(${w.columns.map(() => '?').join(', ')})`
      const sql = (n: number) =>
        `INSERT INTO "${table}" (${quoteList(w.columns)}) VALUES ${Array(n).fill(tuple).join(', ')}${upsertTail(w)}`
      const full = db.prepare(sql(BATCH))
      const flat = (chunk: Row[]) => chunk.flatMap((r) => w.columns.map((c) => r[c]))
      // SQLite is synchronous: producers only change how the work is sliced.
      await produce(rows, producers, async (start, end) => {
        db.transaction(() => {
          for (const chunk of chunks(w, start, end, BATCH)) {
            ;(chunk.length === BATCH ? full : db.prepare(sql(chunk.length))).run(flat(chunk))
          }
        })()
      })
    },
    async count() {
      return (db.prepare(`SELECT COUNT(*) AS n FROM "${table}"`).get() as { n: number }).n
    },
    async teardown() {
      db?.close()
      for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true })
    },
  }
}

/** knex `batchInsert` (one transaction per call); upserts use `insert().onConflict().merge()`. */
export function sqliteKnex(): Contender {
  const file = join(tmpdir(), `${uniqueName('bench')}.db`)
  const table = uniqueName('bench_sqlite_knex')
  const knex = knexFactory({
    client: 'better-sqlite3',
    connection: { filename: file },
    useNullAsDefault: true,
  })
  return {
    async setup(w) {
      const db = new Database(file)
      db.pragma('journal_mode = WAL')
      createTable(db, table, w)
      db.close()
    },
    async run(w, rows, producers) {
      await produce(rows, producers, async (start, end) => {
        if (w.upsert) {
          for (const chunk of chunks(w, start, end, BATCH)) {
            await knex(table).insert(chunk).onConflict('id').merge()
          }
          return
        }
        const all: Row[] = []
        for (let i = start; i < end; i++) all.push(makeRow(w, i))
        await knex.batchInsert(table, all, BATCH)
      })
    },
    async count() {
      const [r] = await knex(table).count({ n: '*' })
      return Number(r?.n)
    },
    async teardown() {
      await knex.destroy()
      for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true })
    },
  }
}

/** BatchSQL (@batchsql/sqlite) on the same kind of file, cached prepared statements. */
export function sqliteBatchSQL(): Contender {
  const file = join(tmpdir(), `${uniqueName('bench')}.db`)
  const table = uniqueName('bench_sqlite_bsql')
  let db: Database.Database
  return {
    async setup(w) {
      db = new Database(file)
      db.pragma('journal_mode = WAL')
      createTable(db, table, w)
    },
    async run(w, rows, producers) {
      const bsql = createSqliteBatchSQL(db, { flushSize: BATCH, rowsPerStatement: BATCH })
      await submitAll(bsql, schemaFor(table, w), w, rows, producers)
    },
    async count() {
      return (db.prepare(`SELECT COUNT(*) AS n FROM "${table}"`).get() as { n: number }).n
    },
    async teardown() {
      db?.close()
      for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true })
    },
  }
}
