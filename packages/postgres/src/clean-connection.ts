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
    if (status !== 'T' && status !== 'E') return client
    client.release(true)
    if (discarded >= MAX_DISCARDED) {
      throw new BatchSQLError(
        'BATCHSQL_FOREIGN_TRANSACTION',
        `${MAX_DISCARDED + 1} connections in a row were inside a transaction BatchSQL did not open`,
      )
    }
  }
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
