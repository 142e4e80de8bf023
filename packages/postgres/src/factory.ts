import { BatchSQLError, checkedOptions, DEFAULT_TIMEOUT_MS, endWithin } from '@batchsql/core'
import {
  checkConnectionOptions,
  checkConnectionUrl,
  createKyselyBatchSQL,
  isKysely,
  type SqlBatchSQL,
  type SqlBatchSQLConfig,
} from '@batchsql/kysely'
import { Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import { type CopyMode, PostgresAdapter } from './adapter.js'
import { cleanPool } from './clean-connection.js'

export interface PostgresBatchSQLConfig extends SqlBatchSQLConfig {
  /** COPY fast path: `never` (default), `insert` (plain inserts), `always` (also upserts, via a staging table). */
  copy?: CopyMode | undefined
  /** The pool for COPY when you pass a Kysely instance (Kysely does not expose its pool). */
  pool?: pg.Pool | undefined
  /** Rows per INSERT statement. Default 2 000. */
  rowsPerStatement?: number | undefined
}

/** A pg pool, a Kysely instance, or what BatchSQL makes a pool of (a URL or `pg.PoolConfig`). */
export type PostgresTarget<DB> = pg.Pool | Kysely<DB> | string | pg.PoolConfig

function isPool(x: unknown): x is pg.Pool {
  return (
    typeof x === 'object' &&
    x !== null &&
    typeof (x as pg.Pool).connect === 'function' &&
    typeof (x as pg.Pool).query === 'function' &&
    'totalCount' in (x as object)
  )
}

/**
 * The connection this factory would open itself (see `checkConnectionUrl`). Accepted:
 * `postgres://` and `postgresql://` URLs, pg's `socket:` URL and a Unix socket directory
 * (`/var/run/postgresql dbname`).
 */
function checkOwnTarget(target: string | pg.PoolConfig): void {
  checkConnectionUrl(target, typeof target === 'string' ? target : target.connectionString, {
    factory: 'createPostgresBatchSQL',
    accepted: /^(postgres(ql)?:\/\/|socket:|\/)/i,
    wanted: `a postgres:// or postgresql:// ${typeof target === 'string' ? 'connection string' : 'connectionString'}`,
    empty:
      'a PoolConfig that sets nothing: give a connectionString or host (for a pool configured from PG* environment variables, pass your own pg.Pool)',
  })
}

const guarded = new WeakSet<pg.Pool>()
const ignore = () => {}

/**
 * A connection the server terminates (restart, `pg_terminate_backend`, network) emits
 * 'error' on its client; with no listener Node exits the process. pg's pool listens only on
 * idle clients, and Kysely holds a checked-out client without one. The failed query still
 * rejects (and is retried), so a listener on every client the pool opens only keeps the
 * process alive. On a pool you pass, BatchSQL adds it to the clients opened from then on,
 * and to the pool (which re-emits an idle client's error).
 */
function guardConnectionErrors(pool: pg.Pool): void {
  // Once per pool, however many pipelines share it (no listener pile-up).
  if (guarded.has(pool)) return
  guarded.add(pool)
  // pg-pool re-emits an idle client's error on the pool: without a listener there, a server
  // restart kills the process and every row buffered in it. On a pool you pass too: your own
  // listeners still see every error; this one only keeps an unlistened pool from crashing.
  pool.on('error', ignore)
  pool.on('connect', (client) => {
    client.on('error', ignore)
  })
}

/** A pg client's socket (`connection.stream`, which pg's own `end()` destroys on a timeout). */
function socketOf(client: pg.Client): { destroy(): void } | undefined {
  return (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream
}

/**
 * A pool BatchSQL creates: its sessions get the executor's timeout as their
 * `statement_timeout` (unless the config sets one), so that the server cancels a statement the
 * executor has given up on (one blocked on a lock, say) and the attempt ends with a certain
 * failure, retried, instead of an outcome nobody knows while the statement may still commit.
 * Set by a `SET` on each new connection, not as a startup parameter, which PgBouncer refuses
 * unless told to ignore it. A pool of yours is not changed: set `statement_timeout` likewise.
 */
function ownPool(
  target: string | pg.PoolConfig,
  clients: Set<pg.Client>,
  timeoutMs = DEFAULT_TIMEOUT_MS,
): pg.Pool {
  const config: pg.PoolConfig = typeof target === 'string' ? { connectionString: target } : target
  // Every client from its creation, a handshake a paused server never answers included (the
  // pool's 'connect' event comes after it), so that close() can drop its socket.
  const Base = (config.Client ?? pg.Client) as typeof pg.Client
  class Tracked extends Base {
    constructor(...args: ConstructorParameters<typeof pg.Client>) {
      super(...args)
      clients.add(this)
      this.once('end', () => clients.delete(this))
    }
  }
  const pool = new pg.Pool({
    ...config,
    Client: Tracked as unknown as NonNullable<pg.PoolConfig['Client']>,
  })
  if (timeoutMs > 0 && config.statement_timeout === undefined) {
    // Queued on the new client ahead of any query of ours; a failure only leaves the default.
    const set = `SET statement_timeout = ${Math.ceil(timeoutMs)}`
    pool.on('connect', (client) => {
      client.query(set).catch(() => {})
    })
  }
  return pool
}

/**
 * A BatchSQL pipeline writing to PostgreSQL. A `pg.Pool` or `Kysely` you pass stays yours and
 * open after `close()`; from a URL or `PoolConfig` BatchSQL creates the pool and ends it.
 */
export function createPostgresBatchSQL<DB = any>(
  target: PostgresTarget<DB>,
  config: PostgresBatchSQLConfig = {},
): SqlBatchSQL<DB> {
  checkedOptions(config, 'createPostgresBatchSQL()')
  const { copy, pool: copyPool, rowsPerStatement, ...rest } = config
  if (isKysely(target)) {
    if (copyPool !== undefined && !isPool(copyPool))
      throw new BatchSQLError('BATCHSQL_INVALID_CONFIG', 'the pool option must be a pg.Pool')
    // COPY (and its staging table) is written with SQL of its own on that pool, which the
    // target's plugins never see: with `withSchema()` its rows would go to another schema's
    // table than the INSERT path's, with CamelCasePlugin to other column names.
    if (copyPool !== undefined && target.getExecutor().plugins.length > 0)
      throw new BatchSQLError(
        'BATCHSQL_INVALID_CONFIG',
        "COPY (the pool option) does not go through the Kysely target's plugins (withSchema, CamelCasePlugin...): pass a Kysely without plugins, or leave COPY off",
      )
    if (copyPool) guardConnectionErrors(copyPool)
    return createKyselyBatchSQL(
      target,
      new PostgresAdapter({ pool: copyPool, copy, rowsPerStatement }),
      rest,
    )
  }
  // COPY uses the target pool itself; a different one would be silently ignored.
  if (copyPool !== undefined && copyPool !== target)
    throw new BatchSQLError(
      'BATCHSQL_INVALID_CONFIG',
      'the pool option is for a Kysely target only (with a pool or URL, COPY uses that pool)',
    )
  const owns = !isPool(target)
  if (owns)
    checkConnectionOptions(
      target,
      'createPostgresBatchSQL',
      'a pg.Pool, a Kysely instance, a connection URL or a pg PoolConfig',
    )
  if (owns) checkOwnTarget(target as string | pg.PoolConfig)
  const clients = new Set<pg.Client>()
  const pool = owns
    ? ownPool(target as string | pg.PoolConfig, clients, rest.timeoutMs)
    : (target as pg.Pool)
  guardConnectionErrors(pool)
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool: cleanPool(pool) }) })
  // Kysely's destroy() (ends the pool if Kysely used it; later destroy() calls are no-ops),
  // then the pool itself if still open: a pool only COPY used is unknown to Kysely.
  // Bounded (endWithin): a server that stopped answering never ends its connections, and
  // their sockets held the process as long as it was paused (QA 2026-11-29).
  const release = owns
    ? () =>
        endWithin(
          (async () => {
            await db.destroy()
            if (!pool.ended && !pool.ending) await pool.end()
          })(),
          () => {
            for (const c of clients) socketOf(c)?.destroy()
          },
        )
    : false
  return createKyselyBatchSQL(
    db,
    new PostgresAdapter({ pool, copy, rowsPerStatement }),
    rest,
    release,
  )
}
