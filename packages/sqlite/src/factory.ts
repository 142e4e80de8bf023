import { createKyselyBatchSQL, type SqlBatchSQL, type SqlBatchSQLConfig } from '@batchsql/kysely'
import BetterSqlite3, { type Database } from 'better-sqlite3'
import { Kysely, SqliteDialect } from 'kysely'
import { SqliteAdapter } from './adapter.js'

export interface SqliteBatchSQLConfig extends SqlBatchSQLConfig {
  /** Rows per INSERT statement. Default 500. */
  rowsPerStatement?: number
}

/** What BatchSQL can write to: a file name (`:memory:` too), a better-sqlite3 database, or a Kysely instance. */
export type SqliteTarget<DB> = string | Database | Kysely<DB>

function isKysely(x: unknown): x is Kysely<any> {
  return (
    typeof (x as Kysely<any>).insertInto === 'function' &&
    typeof (x as Kysely<any>).executeQuery === 'function'
  )
}

/**
 * A BatchSQL pipeline writing to SQLite. With a file name BatchSQL opens the database (WAL,
 * synchronous=NORMAL, 5 s busy timeout) and closes it on `close()`; a `Database` or `Kysely`
 * you pass stays yours and open. SQLite has one writer, so the default concurrency is 1.
 */
export function createSqliteBatchSQL<DB = any>(
  target: SqliteTarget<DB>,
  config: SqliteBatchSQLConfig = {},
): SqlBatchSQL<DB> {
  const { rowsPerStatement, ...rest } = config
  const pipelineConfig = { ...rest, concurrency: rest.concurrency ?? 1 }
  if (isKysely(target)) {
    return createKyselyBatchSQL(target, new SqliteAdapter({ rowsPerStatement }), pipelineConfig)
  }
  const owns = typeof target === 'string'
  const database = owns ? new BetterSqlite3(target) : (target as Database)
  if (owns) {
    database.pragma('journal_mode = WAL')
    database.pragma('synchronous = NORMAL')
    database.pragma('busy_timeout = 5000')
  }
  // Kysely's destroy() would close the database: only hand it over when BatchSQL owns it.
  const db = new Kysely<DB>({ dialect: new SqliteDialect({ database }) })
  const adapter = new SqliteAdapter({ database, rowsPerStatement })
  return createKyselyBatchSQL(db, adapter, pipelineConfig, owns)
}
