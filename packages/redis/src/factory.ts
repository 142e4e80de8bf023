import {
  type BatchSQL,
  createProcessorBatchSQL,
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
  const redis = new Redis(url, { autoResendUnfulfilledCommands: false })
  redis.on('error', () => {})
  return redis
}

/**
 * A BatchSQL pipeline writing to Redis or Redis Cluster. Pass your ioredis `Redis` or
 * `Cluster` (you keep owning it: `close()` leaves it open) or a `redis://` URL (BatchSQL
 * creates the client and quits it on `close()`).
 */
export function createRedisBatchSQL(
  client: RedisClient | string,
  config: RedisBatchSQLConfig = {},
): BatchSQL {
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
