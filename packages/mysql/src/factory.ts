import { BatchSQLError, checkedOptions, DEFAULT_TIMEOUT_MS, endWithin } from '@batchsql/core'
import {
  checkConnectionOptions,
  checkConnectionUrl,
  createKyselyBatchSQL,
  isKysely,
  type SqlBatchSQL,
  type SqlBatchSQLConfig,
} from '@batchsql/kysely'
import { Kysely, MysqlDialect } from 'kysely'
import mysql from 'mysql2'
import { MysqlAdapter } from './adapter.js'
import { charsetError, sessionPool } from './session.js'

export interface MysqlBatchSQLConfig extends SqlBatchSQLConfig {
  /** Rows per INSERT statement. Default 2 000. */
  rowsPerStatement?: number | undefined
}

/**
 * A mysql2 pool (callback, or `mysql2/promise`: its inner `.pool` is used), a Kysely instance,
 * or a URI / `PoolOptions` BatchSQL makes a pool of.
 */
export type MysqlTarget<DB> = mysql.Pool | Kysely<DB> | string | mysql.PoolOptions

function callbackPool(x: unknown): mysql.Pool | undefined {
  if (
    typeof x === 'object' &&
    x !== null &&
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
 * The connection this factory would open itself (see `checkConnectionUrl`): a `mysql://` or
 * `mariadb://` URI that parses as a URL, since mysql2 throws a bare TypeError, the URI in it,
 * for one that does not.
 */
function checkOwnTarget(target: string | mysql.PoolOptions): void {
  const uri = typeof target === 'string' ? target : target.uri
  checkConnectionUrl(target, uri, {
    factory: 'createMysqlBatchSQL',
    accepted: /^(mysql|mariadb):\/\//i,
    wanted: `a mysql:// or mariadb:// ${typeof target === 'string' ? 'URI' : 'uri'}`,
    empty: 'PoolOptions that set nothing: give a uri or host',
  })
  // mysql2 parses it with URL, at createPool(): its TypeError would carry the URI as `input`.
  if (typeof uri === 'string' && !URL.canParse(uri))
    throw new BatchSQLError(
      'BATCHSQL_INVALID_CONFIG',
      'createMysqlBatchSQL got a mysql:// URI that does not parse as a URL',
    )
  // Refused at construction rather than at each connection's check (session.ts).
  const charset =
    (typeof target === 'string' ? undefined : target.charset) ??
    (typeof uri === 'string' ? new URL(uri).searchParams.get('charset') : null)
  if (typeof charset === 'string' && !/^utf8mb4/i.test(charset)) throw charsetError(charset)
}

/** A mysql2 connection as its pool hands it over: its socket, and its own close. */
interface Connection {
  readonly stream?: { destroy(): void; once(event: 'close', listener: () => void): unknown }
  destroy(): void
}

/**
 * A BatchSQL pipeline writing to MySQL or MariaDB. A pool or Kysely you pass stays yours and
 * open after `close()`, its sessions unchanged; from a URI or `PoolOptions` BatchSQL creates
 * the pool, sets each connection's session up (time_zone '+00:00', no NO_BACKSLASH_ESCAPES,
 * statement and lock-wait limits from `timeoutMs`: see session.ts) and ends it on `close()`.
 */
export function createMysqlBatchSQL<DB = any>(
  target: MysqlTarget<DB>,
  config: MysqlBatchSQLConfig = {},
): SqlBatchSQL<DB> {
  checkedOptions(config, 'createMysqlBatchSQL()')
  const { rowsPerStatement, ...rest } = config
  const adapter = new MysqlAdapter({ rowsPerStatement })
  if (isKysely(target)) {
    adapter.kyselyTarget = true
    return createKyselyBatchSQL(target, adapter, rest)
  }
  const given = callbackPool(target)
  if (given === undefined)
    checkConnectionOptions(
      target,
      'createMysqlBatchSQL',
      'a mysql2 pool, a Kysely instance, a URI or mysql2 PoolOptions',
    )
  if (given === undefined) checkOwnTarget(target as string | mysql.PoolOptions)
  const pool =
    given ??
    mysql.createPool(typeof target === 'string' ? { uri: target } : (target as mysql.PoolOptions))
  const sessions = sessionPool(pool, {
    owned: given === undefined,
    timeoutMs: rest.timeoutMs ?? DEFAULT_TIMEOUT_MS,
  })
  const db = new Kysely<DB>({ dialect: new MysqlDialect({ pool: sessions }) })
  // The connections of a pool BatchSQL created, so that close() can drop their sockets.
  const connections = new Set<Connection>()
  if (given === undefined)
    pool.on('connection', (conn) => {
      const c = conn as unknown as Connection
      connections.add(c)
      c.stream?.once('close', () => connections.delete(c))
    })
  // Kysely's destroy() (ends the pool if Kysely used it; later destroy() calls are no-ops),
  // then the pool itself if still open (only when BatchSQL created it). Bounded (endWithin): a
  // server that stopped answering never ends its connections, and their sockets held the
  // process as long as it was paused (QA 2026-11-29).
  const release =
    given === undefined
      ? () =>
          endWithin(
            (async () => {
              await db.destroy()
              // mysql2 has no public "ended" flag; a second end() would fail on a closed pool.
              if ((pool as unknown as { _closed?: boolean })._closed === true) return
              await new Promise<void>((done, fail) => pool.end((err) => (err ? fail(err) : done())))
            })(),
            () => {
              // The socket itself: mysql2's destroy() only ends it (a FIN a paused server never
              // answers, the socket left in FIN-WAIT-2 holding the process). A connection still
              // in its handshake is not among them: mysql2's connectTimeout (10 s) ends it.
              for (const c of connections) (c.stream ?? c).destroy()
            },
          )
      : false
  return createKyselyBatchSQL(db, adapter, rest, release)
}
