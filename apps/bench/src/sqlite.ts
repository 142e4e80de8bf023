import { rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createSqliteBatchSQL } from '@batchsql/sqlite'
import Database from 'better-sqlite3'
import knexFactory from 'knex'
import { type Feed, schemaFor, submitAll } from './batchsql.js'
import { BATCH, type Contender, quoteList, type TableRun } from './contender.js'
import { chunks, makeRow, produce, type Row, uniqueName, type Workload } from './workloads.js'

/**
 * WAL with synchronous=NORMAL for every contender: what `createSqliteBatchSQL(filename)` sets
 * itself, and the usual setting for a write-heavy SQLite. With the default FULL every commit
 * waits for an fsync, which would measure this disk rather than the libraries.
 */
function open(file: string): Database.Database {
  const db = new Database(file)
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  return db
}

function createTable(db: Database.Database, table: string, w: Workload): void {
  const cols = w.columns.map((c, i) => `"${c}" ${w.types[i]}${c === 'id' ? ' PRIMARY KEY' : ''}`)
  db.exec(`CREATE TABLE "${table}" (${cols.join(', ')})`)
}

function upsertTail(w: Workload): string {
  if (!w.upsert) return ''
  const set = w.columns.filter((c) => c !== 'id').map((c) => `"${c}" = excluded."${c}"`)
  return ` ON CONFLICT ("id") DO UPDATE SET ${set.join(', ')}`
}

/** The multi-row INSERT of `n` rows the bare contenders run (upsert tail for upserts). */
function insertSql(table: string, w: Workload, n: number): string {
  const tuple = `(${w.columns.map(() => '?').join(', ')})`
  return `INSERT INTO "${table}" (${quoteList(w.columns)}) VALUES ${Array(n).fill(tuple).join(', ')}${upsertTail(w)}`
}

/** `Contender.names()` on a SQLite table: ids bound as one JSON array. */
function namesIn(db: Database.Database, table: string, ids: readonly number[]) {
  const rows = db
    .prepare(`SELECT id, name FROM "${table}" WHERE id IN (SELECT value FROM json_each(?))`)
    .all(JSON.stringify(ids)) as { id: number; name: string }[]
  return new Map(rows.map((r) => [r.id, r.name]))
}

/**
 * A contender on its own database file and table: creates both, counts rows afterwards and
 * removes the file (and its WAL) in teardown. `run` gets the open database.
 */
function onFile(prefix: string, run: TableRun<Database.Database>): Contender {
  const file = join(tmpdir(), `${uniqueName('bench')}.db`)
  const table = uniqueName(prefix)
  let db: Database.Database
  return {
    async setup(w) {
      db = open(file)
      createTable(db, table, w)
    },
    run: (w, rows, producers) => run(db, table, w, rows, producers),
    async count() {
      return (db.prepare(`SELECT COUNT(*) AS n FROM "${table}"`).get() as { n: number }).n
    },
    async names(ids) {
      return namesIn(db, table, ids)
    },
    async teardown() {
      db?.close()
      for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true })
    },
  }
}

/** The limit: one transaction, multi-row INSERTs of BATCH rows through one cached statement. */
export function sqliteBare(): Contender {
  return onFile('bench_sqlite', async (db, table, w, rows, producers) => {
    const full = db.prepare(insertSql(table, w, BATCH))
    const flat = (chunk: Row[]) => chunk.flatMap((r) => w.columns.map((c) => r[c]))
    // SQLite is synchronous: producers only change how the work is sliced.
    await produce(rows, producers, async (start, end) => {
      db.transaction(() => {
        for (const chunk of chunks(w, start, end, BATCH)) {
          ;(chunk.length === BATCH ? full : db.prepare(insertSql(table, w, chunk.length))).run(
            flat(chunk),
          )
        }
      })()
    })
  })
}

/** knex `batchInsert` (one transaction per call); upserts use `insert().onConflict().merge()`. */
export function sqliteKnex(): Contender {
  const file = join(tmpdir(), `${uniqueName('bench')}.db`)
  const table = uniqueName('bench_sqlite_knex')
  const knex = knexFactory({
    client: 'better-sqlite3',
    connection: { filename: file },
    useNullAsDefault: true,
    pool: {
      afterCreate: (conn: Database.Database, done: (err: Error | null, c: unknown) => void) => {
        conn.pragma('synchronous = NORMAL')
        done(null, conn)
      },
    },
  })
  return {
    async setup(w) {
      const db = open(file)
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
    async names(ids) {
      const db = open(file)
      try {
        return namesIn(db, table, ids)
      } finally {
        db.close()
      }
    },
    async teardown() {
      await knex.destroy()
      for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true })
    },
  }
}

/**
 * What a service writes by hand when rows arrive one at a time from concurrent producers: a
 * shared buffer, each producer yields after every row (as it would between requests), and
 * every BATCH rows are one multi-row INSERT committed on its own. Unlike the limit above, rows
 * reach SQLite in arrival order (interleaved keys with 10 producers) and each batch commits,
 * which is what BatchSQL does too.
 */
export function sqliteHandWritten(): Contender {
  return onFile('bench_sqlite_hand', async (db, table, w, rows, producers) => {
    const full = db.prepare(insertSql(table, w, BATCH))
    let buffer: unknown[] = []
    let buffered = 0
    const flush = db.transaction((params: unknown[], n: number) => {
      ;(n === BATCH ? full : db.prepare(insertSql(table, w, n))).run(params)
    })
    await produce(rows, producers, async (start, end) => {
      for (let i = start; i < end; i++) {
        const r = makeRow(w, i)
        for (const c of w.columns) buffer.push(r[c])
        if (++buffered === BATCH) {
          flush(buffer, buffered)
          buffer = []
          buffered = 0
        }
        await null
      }
    })
    if (buffered > 0) flush(buffer, buffered)
  })
}

/**
 * BatchSQL (@batchsql/sqlite) on the same kind of file, cached prepared statements. Every flush
 * is one transaction: `flushSize` above BATCH (statements stay BATCH rows) is the setting the
 * sqlite README recommends when commits dominate.
 */
export function sqliteBatchSQL(feed: Feed = 'submit', flushSize = BATCH): Contender {
  return onFile('bench_sqlite_bsql', async (db, table, w, rows, producers) => {
    const bsql = createSqliteBatchSQL(db, {
      flushSize,
      bufferSize: Math.max(10_000, 4 * flushSize),
      rowsPerStatement: BATCH,
    })
    await submitAll(bsql, schemaFor(table, w), w, rows, producers, feed)
  })
}
