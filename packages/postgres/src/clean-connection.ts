import { BatchSQLError } from '@batchsql/core'
import type { PostgresPool } from 'kysely'
import type pg from 'pg'

/** More connections left inside a transaction than this in a row: something keeps opening them. */
const MAX_DISCARDED = 100

/**
 * A client of `pool` that is not inside a transaction. A batch of one statement (and a lone
 * COPY) runs without a `BEGIN` of BatchSQL's: on a connection that your code released inside
 * its own transaction (a `BEGIN` without `COMMIT` or `ROLLBACK`) it would join that transaction,
 * be acknowledged, and commit or vanish with it. Such a client is closed instead (the server
 * rolls its transaction back, as for any connection that ends mid-transaction) and another is
 * taken: nothing of BatchSQL's was sent on it. pg reports the session's state from its last
 * ReadyForQuery (`getTransactionStatus()`: `I` idle, `T` in a transaction, `E` in a failed
 * one); a pg without that method is not checked.
 */
export async function connectClean(pool: pg.Pool): Promise<pg.PoolClient> {
  for (let discarded = 0; ; discarded++) {
    const client = await pool.connect()
    const status = (
      client as { getTransactionStatus?: () => string | null }
    ).getTransactionStatus?.()
    if (status !== 'T' && status !== 'E' && !ended.has(client)) return watched(client)
    client.release(true)
    if (discarded >= MAX_DISCARDED) {
      throw new BatchSQLError(
        'BATCHSQL_FOREIGN_TRANSACTION',
        `${MAX_DISCARDED + 1} connections in a row were inside a transaction BatchSQL did not open`,
      )
    }
  }
}

/** Clients whose session a query error showed to be over. */
const ended = new WeakSet<pg.PoolClient>()
const watching = new WeakSet<pg.PoolClient>()

/**
 * Whether `err`, from a query, means the server ended the session: the connection is gone
 * even if the socket's close has not been seen yet (57P01 `pg_terminate_backend`, 57P02/57P03
 * shutdown, a FATAL error, class 08, or pg's own "Connection terminated").
 */
function endsSession(err: unknown): boolean {
  const e = err as { code?: unknown; severity?: unknown; message?: unknown }
  const code = typeof e?.code === 'string' ? e.code : ''
  return (
    e?.severity === 'FATAL' ||
    /^(08|57P0[123])/.test(code) ||
    (typeof e?.message === 'string' && e.message.startsWith('Connection terminated'))
  )
}

/**
 * `client`, destroyed rather than returned to the pool when one of its queries showed the
 * session ended. pg-pool takes a released client back at once if its socket's close has not
 * been handled yet (after `pg_terminate_backend` the query fails first): the next batch would
 * send its statement on a closed connection, and be reported of unknown outcome though
 * nothing could have run. `query` is wrapped once per client (a promise-returning call only;
 * a COPY stream's errors end in a failed ROLLBACK, which destroys it already), `release` at
 * every checkout (pg-pool gives each its own).
 */
function watched(client: pg.PoolClient): pg.PoolClient {
  if (!watching.has(client)) {
    watching.add(client)
    const query = client.query as (...args: unknown[]) => unknown
    ;(client as { query: unknown }).query = function (this: unknown, ...args: unknown[]) {
      const out = query.apply(this, args)
      if (out instanceof Promise)
        out.catch((err: unknown) => {
          if (endsSession(err)) ended.add(client)
        })
      return out
    }
  }
  const release = client.release
  client.release = (err?: Error | boolean) =>
    release.call(client, err || (ended.has(client) ? true : undefined))
  return client
}

/**
 * `pool` as Kysely's PostgresDialect takes it, handing out clean clients only (its `Client` and
 * `options` are what Kysely's query cancellation opens a control connection with).
 */
export function cleanPool(pool: pg.Pool): PostgresPool {
  const p = pool as unknown as PostgresPool
  return {
    connect: () => connectClean(pool) as unknown as ReturnType<PostgresPool['connect']>,
    end: () => pool.end(),
    get options() {
      return p.options
    },
    get Client() {
      return p.Client
    },
  }
}
