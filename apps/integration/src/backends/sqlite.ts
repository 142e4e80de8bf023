import { mkdirSync, rmSync } from 'node:fs'
import { dirname } from 'node:path'
import { createSqliteBatchSQL } from '@batchsql/sqlite'
import Database from 'better-sqlite3'
import type { AppRow } from '../rows.js'
import { type Backend, type PipelineOptions, STRATEGIES } from './backend.js'
import { lineFromDb, SQL_ROW_MODEL, type SqlTypes, tableColumns } from './sql-rows.js'
import { claimSqliteFile } from './sqlite-file.js'

const TYPES: SqlTypes = {
  id: 'INTEGER',
  int: 'INTEGER',
  text: 'TEXT',
  bigint: 'INTEGER',
  float: 'REAL',
  date: 'TEXT',
}

const q = (id: string) => `"${id.replaceAll('"', '""')}"`

/**
 * The embedded default: a SQLite file, recreated at the start of every run (`fresh`) once
 * this run holds it (see sqlite-file.ts); producer processes open the same file as it is.
 */
export async function openSqlite(path: string, fresh = true, keep = false): Promise<Backend> {
  mkdirSync(dirname(path), { recursive: true })
  const claim = fresh ? claimSqliteFile(path, keep) : undefined
  const file = claim?.path ?? path
  if (claim) for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true })
  const reader = new Database(file)
  reader.pragma('journal_mode = WAL')
  const open = new Set<Database.Database>()
  return {
    name: 'sqlite',
    file,
    notice: claim?.notice,
    strategies: STRATEGIES.sqlite,
    async createTable(table, options) {
      reader.exec(`DROP TABLE IF EXISTS ${q(table)}`)
      const columns = tableColumns(TYPES, options?.keyless === true)
      reader.exec(`CREATE TABLE ${q(table)} (${columns})`)
    },
    async dropTable(table) {
      reader.exec(`DROP TABLE IF EXISTS ${q(table)}`)
    },
    ...SQL_ROW_MODEL,
    pipeline(o: PipelineOptions) {
      // A short busy timeout: a locked database (the fault scenario) becomes SQLITE_BUSY,
      // which BatchSQL retries with backoff, instead of a silent 5 s stall.
      const db = new Database(file, { timeout: 200 })
      db.pragma('synchronous = NORMAL')
      open.add(db)
      const batch = createSqliteBatchSQL(db, {
        ...o,
        concurrency: 1,
      })
      void batch.done.finally(() => {
        db.close()
        open.delete(db)
      })
      return batch
    },
    async readBack(table, onLine) {
      for (const r of reader
        .prepare(`SELECT * FROM ${q(table)}`)
        .safeIntegers(true)
        .iterate()) {
        onLine(lineFromDb(r as Record<string, unknown>))
      }
    },
    poison: (row: AppRow) => ({ ...row, payload: null }),
    async injectFault() {
      // Another connection takes the write lock for 1.5 s: every write meanwhile fails with
      // SQLITE_BUSY and must be retried.
      const locker = new Database(file)
      locker.exec('BEGIN EXCLUSIVE')
      await new Promise((r) => setTimeout(r, 1500))
      locker.exec('ROLLBACK')
      locker.close()
      return 'database locked by another connection for 1.5 s (SQLITE_BUSY)'
    },
    async close() {
      for (const db of open) db.close()
      reader.close()
      claim?.release()
    },
  }
}
