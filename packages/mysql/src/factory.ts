import { createKyselyBatchSQL, type SqlBatchSQL, type SqlBatchSQLConfig } from '@batchsql/kysely'
import { Kysely, MysqlDialect } from 'kysely'
import mysql from 'mysql2'
import { MysqlAdapter } from './adapter.js'

export interface MysqlBatchSQLConfig extends SqlBatchSQLConfig {
  /** Rows per INSERT statement. Default 2 000. */
  rowsPerStatement?: number
}

/** A mysql2 pool (callback or promise), a Kysely instance, or a URI / `PoolOptions` BatchSQL makes a pool of. */
export type MysqlTarget<DB> =
  | mysql.Pool
  | { pool: mysql.Pool }
  | Kysely<DB>
  | string
  | mysql.PoolOptions

function isKysely(x: unknown): x is Kysely<any> {
  return (
    typeof (x as Kysely<any>).insertInto === 'function' &&
    typeof (x as Kysely<any>).executeQuery === 'function'
  )
}

function callbackPool(x: unknown): mysql.Pool | undefined {
  if (
    typeof (x as mysql.Pool).getConnection === 'function' &&
    typeof (x as mysql.Pool).end === 'function'
  ) {
    // A `mysql2/promise` pool wraps the callback pool Kysely needs as `.pool`.
    const inner = (x as { pool?: mysql.Pool }).pool
    return inner && typeof inner.getConnection === 'function' ? inner : (x as mysql.Pool)
  }
  return undefined
}

/**
 * A BatchSQL pipeline writing to MySQL or MariaDB. A pool or Kysely you pass stays yours and
 * open after `close()`; from a URI or `PoolOptions` BatchSQL creates the pool and ends it.
 */
export function createMysqlBatchSQL<DB = any>(
  target: MysqlTarget<DB>,
  config: MysqlBatchSQLConfig = {},
): SqlBatchSQL<DB> {
  const { rowsPerStatement, ...rest } = config
  const adapter = new MysqlAdapter({ rowsPerStatement })
  if (isKysely(target)) return createKyselyBatchSQL(target, adapter, rest)
  const given = callbackPool(target)
  const pool =
    given ??
    mysql.createPool(typeof target === 'string' ? { uri: target } : (target as mysql.PoolOptions))
  // Kysely's destroy() ends the pool: only let it when BatchSQL created the pool.
  const db = new Kysely<DB>({ dialect: new MysqlDialect({ pool }) })
  return createKyselyBatchSQL(db, adapter, rest, given === undefined)
}
