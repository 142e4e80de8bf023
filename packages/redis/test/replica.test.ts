import type { BatchSQLError } from '@batchsql/core'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { classifyRedisError, createRedisBatchSQL, redisSchemas } from '../src/index.js'
import { script, uniquePrefix } from './helpers.js'

// A Redis of the test's own, turned into a replica (of a port nobody listens on) and back:
// writes get READONLY meanwhile, as during a failover.
const port = '6396'
let admin: Redis

beforeAll(async () => {
  await script('redis-single.sh', 'start', port)
  admin = new Redis(Number(port), '127.0.0.1', { maxRetriesPerRequest: 1 })
}, 60_000)

afterAll(async () => {
  await admin?.replicaof('NO', 'ONE').catch(() => {})
  admin?.disconnect()
  await script('redis-single.sh', 'stop', port)
}, 60_000)

const outcome = (p: Promise<void>) =>
  p.then(
    () => 'ok',
    (e: BatchSQLError) => e.code,
  )

describe('Redis turned replica under BatchSQL', () => {
  it('a command ioredis would send again (reconnectOnError returns 2) never runs after BatchSQL reported it', async () => {
    const prefix = uniquePrefix('replica')
    // ioredis's failover recipe: on READONLY, reconnect and send the command again.
    const client = new Redis(Number(port), '127.0.0.1', {
      reconnectOnError: (e) => (e.message.startsWith('READONLY') ? 2 : false),
    })
    client.on('error', () => {})
    const push = redisSchemas.push({ prefix, side: 'right' })
    const batch = createRedisBatchSQL(client, { flushSize: 100, flushInterval: 5 })
    await client.ping()
    await admin.replicaof('127.0.0.1', 1) // nothing listens there: it stays a read-only replica
    // RPUSH is not idempotent: a lost reply makes it of unknown outcome at once.
    const first = await outcome(batch.submitAndWait(push, { key: 'l', value: 'first' }))
    expect(first).toBe('BATCHSQL_OUTCOME_UNKNOWN')
    await admin.replicaof('NO', 'ONE')
    expect(await outcome(batch.submitAndWait(push, { key: 'l', value: 'second' }))).toBe('ok')
    // ioredis's own copy of `first`, had it kept one, runs once the client has reconnected.
    await new Promise((r) => setTimeout(r, 1_500))
    expect(await admin.lrange(`${prefix}l`, 0, -1)).toEqual(['second'])
    await batch.close()
    client.disconnect()
    await admin.del(`${prefix}l`)
  }, 30_000)

  it('NOREPLICAS (min-replicas-to-write not met) is retried, and the rows written once it is', async () => {
    const prefix = uniquePrefix('noreplicas')
    const client = new Redis(Number(port), '127.0.0.1', { maxRetriesPerRequest: 1 })
    await admin.config('SET', 'min-replicas-to-write', '1') // and no replica: writes refused
    try {
      const refused = await client.set(`${prefix}probe`, 'v').catch((e: unknown) => e)
      expect((refused as Error).message).toMatch(/^NOREPLICAS/)
      expect(classifyRedisError(refused)).toEqual({ reason: 'connection', retryable: true })
      const set = redisSchemas.set({ prefix })
      const batch = createRedisBatchSQL(client, {
        flushInterval: 5,
        retry: { maxAttempts: 1_000, initialDelayMs: 10, maxDelayMs: 10 },
      })
      const acks = [1, 2, 3].map((i) => batch.submitAndWait(set, { key: `k${i}`, value: `v${i}` }))
      await new Promise((r) => setTimeout(r, 300)) // refused, retried, refused...
      expect(await admin.exists(`${prefix}k1`)).toBe(0)
      await admin.config('SET', 'min-replicas-to-write', '0')
      await Promise.all(acks)
      expect(await admin.mget(`${prefix}k1`, `${prefix}k2`, `${prefix}k3`)).toEqual([
        'v1',
        'v2',
        'v3',
      ])
      await batch.close()
      await admin.del(`${prefix}k1`, `${prefix}k2`, `${prefix}k3`)
    } finally {
      await admin.config('SET', 'min-replicas-to-write', '0')
      client.disconnect()
    }
  }, 30_000)

  it('EXEC refused whole (the server turned replica after the commands were queued) is classified by the code its message names', async () => {
    // A real EXECABORT of that kind: MULTI and the commands queued, then REPLICAOF, then EXEC.
    const client = new Redis(Number(port), '127.0.0.1', { maxRetriesPerRequest: 1 })
    await client.call('MULTI')
    await client.call('SET', uniquePrefix('exec'), 'v')
    await admin.replicaof('127.0.0.1', 1)
    const err = await client.call('EXEC').catch((e: unknown) => e)
    await admin.replicaof('NO', 'ONE')
    client.disconnect()
    expect((err as Error).message).toMatch(/^EXECABORT .*because of: READONLY/)
    // No queued command failed: nothing says why but the message (was syntax, final).
    expect(classifyRedisError(err)).toEqual({ reason: 'connection', retryable: true })
  }, 30_000)
})
