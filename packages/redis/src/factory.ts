import {
  BatchSQLError,
  checkedOptions,
  createProcessorBatchSQL,
  type ProcessorBatchSQL,
  type ProcessorBatchSQLConfig,
} from '@batchsql/core'
import { Redis } from 'ioredis'
import { type RedisClient, RedisProcessor, type RedisProcessorOptions } from './processor.js'

export interface RedisBatchSQLConfig
  extends ProcessorBatchSQLConfig,
    Omit<RedisProcessorOptions, 'ownsClient'> {}

/**
 * The client BatchSQL creates from a URL. Its connection errors reach the caller through the
 * commands that fail (classified, retried, reported); without a listener ioredis would also
 * print each one as an "Unhandled error event" while it reconnects.
 */
function ownClient(url: string): Redis {
  // Not re-sent by ioredis after a reconnection: a pipeline whose replies were lost is settled
  // by the processor (retried if idempotent, else reported BATCHSQL_OUTCOME_UNKNOWN), and a
  // second, silent copy from ioredis would apply an INCR or RPUSH twice.
  // disconnectTimeout: ioredis ends the socket on disconnect() and destroys it if it is still
  // open after that long (2 s by default). Between reconnection attempts (server unreachable)
  // the socket is already closed, so the timer never cleared and held the process 2 s after
  // close(). BatchSQL disconnects only a client it is done with: nothing to wait for.
  const redis = new Redis(url, { autoResendUnfulfilledCommands: false, disconnectTimeout: 0 })
  redis.on('error', () => {})
  return redis
}

/** An ioredis `Redis` or `Cluster`, by shape: the application's ioredis may be another copy. */
function isClient(x: unknown): x is RedisClient {
  return (
    typeof x === 'object' &&
    x !== null &&
    typeof (x as RedisClient).pipeline === 'function' &&
    typeof (x as RedisClient).on === 'function' &&
    typeof (x as RedisClient).status === 'string'
  )
}

/**
 * Throws `BATCHSQL_INVALID_CONFIG` unless `client` is a client or a `redis://` / `rediss://`
 * URL: ioredis takes any string (an `http://` URL connected to that host's port 6379,
 * `host:port` without a scheme too), and anything else failed with a bare TypeError. A Unix
 * socket path (`/tmp/redis.sock`) is accepted, as ioredis reads it. Messages name the scheme,
 * never the URL (it may hold a password).
 */
function checkTarget(client: unknown): void {
  if (isClient(client)) return
  if (typeof client === 'string') {
    if (/^(rediss?:\/\/|\/)/i.test(client)) return
    const scheme = /^([a-z][a-z0-9+.-]*:)\/\//i.exec(client)?.[1]
    throw new BatchSQLError(
      'BATCHSQL_INVALID_CONFIG',
      `createRedisBatchSQL needs a redis:// or rediss:// URL, not ${
        scheme !== undefined ? `a ${scheme}// URL` : 'a string without that scheme'
      }`,
    )
  }
  throw new BatchSQLError(
    'BATCHSQL_INVALID_CONFIG',
    'createRedisBatchSQL needs an ioredis Redis or Cluster, or a redis:// or rediss:// URL',
  )
}

/**
 * A BatchSQL pipeline writing to Redis or Redis Cluster. Pass your ioredis `Redis` or
 * `Cluster` (you keep owning it: `close()` leaves it open) or a `redis://` URL (BatchSQL
 * creates the client and quits it on `close()`).
 */
export function createRedisBatchSQL(
  client: RedisClient | string,
  config: RedisBatchSQLConfig = {},
): ProcessorBatchSQL {
  checkTarget(client)
  checkedOptions(config, 'createRedisBatchSQL()')
  const { atomic, name, ...rest } = config
  const owns = typeof client === 'string'
  const redis = owns ? ownClient(client) : client
  try {
    const processor = new RedisProcessor(redis, { atomic, name, ownsClient: owns })
    return createProcessorBatchSQL(processor, rest)
  } catch (err) {
    // A bad option: the client made for this pipeline (already connecting) goes with it.
    if (owns) redis.disconnect()
    throw err
  }
}
