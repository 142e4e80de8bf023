import { DEFAULT_TIMEOUT_MS } from '@batchsql/core'
import { createKyselyBatchSQL, type SqlBatchSQL, type SqlBatchSQLConfig } from '@batchsql/kysely'
import { CompiledQuery, type DatabaseConnection, Kysely, MysqlDialect } from 'kysely'
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
 * Session limits for the connections of a pool BatchSQL creates, from the executor's timeout:
 * the server then ends a statement the executor has given up on (one blocked on a row lock,
 * say) with an error, so the attempt fails for certain and is retried, instead of an outcome
 * nobody knows while the statement may still commit. MariaDB's `max_statement_time` covers
 * every statement (fractions of a second); MySQL has no such limit for writes, so there only
 * lock waits are bounded (`innodb_lock_wait_timeout`, whole seconds, at least 1). A pool of
 * yours is not changed.
 */
function sessionLimits(timeoutMs = DEFAULT_TIMEOUT_MS) {
  if (timeoutMs <= 0) return undefined
  return async (conn: DatabaseConnection): Promise<void> => {
    const lockWait = Math.max(1, Math.floor(timeoutMs / 1000))
    await conn.executeQuery(CompiledQuery.raw(`SET SESSION innodb_lock_wait_timeout = ${lockWait}`))
    // Unknown on MySQL (error 1193): nothing to set there.
    await conn
      .executeQuery(CompiledQuery.raw(`SET SESSION max_statement_time = ${timeoutMs / 1000}`))
      .catch(() => {})
  }
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
  const onCreateConnection = given === undefined ? sessionLimits(rest.timeoutMs) : undefined
  const db = new Kysely<DB>({ dialect: new MysqlDialect({ pool, onCreateConnection }) })
  // Kysely's destroy() (ends the pool if Kysely used it; later destroy() calls are no-ops),
  // then the pool itself if still open (only when BatchSQL created it).
  const release =
    given === undefined
      ? async () => {
          await db.destroy()
          // mysql2 has no public "ended" flag; a second end() would fail on a closed pool.
          if ((pool as unknown as { _closed?: boolean })._closed === true) return
          await new Promise<void>((done, fail) => pool.end((err) => (err ? fail(err) : done())))
        }
      : false
  return createKyselyBatchSQL(db, adapter, rest, release)
}
