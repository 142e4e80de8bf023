import type { BatchFailure } from '@batchsql/core'
import type { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRedisBatchSQL, redisSchemas } from '../src/index.js'
import { connect, script, uniquePrefix } from './helpers.js'

// A private server killed (SIGKILL) and restarted mid-run: connections drop with pipelines
// in flight. It persists every write before replying (appendfsync always).
const port = '6394'
let redis: Redis

beforeAll(async () => {
  await script('redis-single.sh', 'start', port)
  redis = connect(`redis://127.0.0.1:${port}`)
  redis.on('error', () => {})
})
afterAll(async () => {
  redis.disconnect()
  await script('redis-single.sh', 'stop', port)
})

describe('server restart mid-run', () => {
  it('retries idempotent commands, reports (never doubles) non-idempotent ones', async () => {
    const prefix = uniquePrefix('restart1')
    const set = redisSchemas.set({ prefix })
    const push = redisSchemas.push({ prefix, side: 'right' })
    const failures: BatchFailure[] = []
    const b = createRedisBatchSQL(redis, {
      flushSize: 500,
      timeoutMs: 5_000,
      retry: { maxAttempts: 40, initialDelayMs: 50, maxDelayMs: 500 },
      onError: (f) => failures.push(f),
    })
    const N = 20_000
    let i = 0
    const producer = (async () => {
      for (; i < N; i++) {
        await b.submit(set, { key: `s${i % 1000}`, value: i })
        await b.submit(push, { key: 'list', value: i })
        if (i % 200 === 0) await new Promise((r) => setTimeout(r, 1))
      }
    })()
    while (i < N / 4) await new Promise((r) => setTimeout(r, 5))
    await script('redis-single.sh', 'restart', port)
    const restartedAt = i
    await producer
    await b.close()
    expect(restartedAt).toBeLessThan(N - 1)

    // Idempotent SETs: nothing lost.
    expect(failures.filter((f) => f.schema === set)).toEqual([])
    const values = await redis.mget(Array.from({ length: 1000 }, (_, k) => `${prefix}s${k}`))
    values.forEach((v, k) => {
      expect(v, `s${k}`).toBe(String(N - 1000 + k))
    })
    // RPUSH: no value twice; every value written or reported as a connection failure.
    const reported = new Set<number>()
    for (const f of failures) {
      expect(f.schema).toBe(push)
      expect(f.reason).toBe('connection')
      // Told apart from a failure that surely wrote nothing: the value may be in the list.
      expect(f.error.code).toBe('BATCHSQL_OUTCOME_UNKNOWN')
      for (const r of f.rows) reported.add(r.get('value') as number)
    }
    const list = (await redis.lrange(`${prefix}list`, 0, -1)).map(Number)
    expect(new Set(list).size).toBe(list.length)
    const present = new Set(list)
    for (let v = 0; v < N; v++) {
      if (!present.has(v)) expect(reported.has(v), `value ${v} lost silently`).toBe(true)
    }
    // Order of what was written is submission order.
    expect(list).toEqual([...list].sort((a, b) => a - b))
  })
})

describe('a server that is down when the batch is written', () => {
  it('is waited for, not queued in ioredis: a batch given up on is reported unsent and never runs later', {
    timeout: 60_000,
  }, async () => {
    const downPort = '6395'
    await script('redis-single.sh', 'stop', downPort)
    const prefix = uniquePrefix('down1')
    const incr = redisSchemas.incr({ prefix })
    // Reconnects every 50 ms while the server is down; ioredis's offline queue is on (default).
    const client = connect(`redis://127.0.0.1:${downPort}`)
    client.options.retryStrategy = () => 50
    client.on('error', () => {})
    const b = createRedisBatchSQL(client, { timeoutMs: 300, retry: { maxAttempts: 2 } })
    const err = await b.submitAndWait(incr, { key: 'n', by: 1 }).catch((e: unknown) => e)
    // Never handed to ioredis, so surely not written: not BATCHSQL_OUTCOME_UNKNOWN.
    expect(err).toMatchObject({ code: 'BATCHSQL_BATCH_FAILED' })
    expect(['timeout', 'connection']).toContain((err as { reason: string }).reason)
    await script('redis-single.sh', 'start', downPort)
    try {
      await new Promise<void>((r) => (client.status === 'ready' ? r() : client.once('ready', r)))
      // Before: ioredis sent the queued INCRBY once connected, after it was reported.
      await new Promise((r) => setTimeout(r, 200))
      expect(await client.get(`${prefix}n`)).toBeNull()
      await b.submitAndWait(incr, { key: 'n', by: 1 })
      expect(await client.get(`${prefix}n`)).toBe('1')
      await client.del(`${prefix}n`)
    } finally {
      await b.close()
      client.disconnect()
      await script('redis-single.sh', 'stop', downPort)
    }
  })

  it('many batches waiting for one shared client add one listener, and all are written once it is up', {
    timeout: 60_000,
  }, async () => {
    const downPort = '6395'
    await script('redis-single.sh', 'stop', downPort)
    const prefix = uniquePrefix('down2')
    const incr = redisSchemas.incr({ prefix })
    const client = connect(`redis://127.0.0.1:${downPort}`)
    client.options.retryStrategy = () => 50
    client.options.maxRetriesPerRequest = null // wait for as long as it takes
    client.on('error', () => {})
    const warnings: Error[] = []
    const onWarning = (w: Error) => warnings.push(w)
    process.on('warning', onWarning)
    const baseline = client.listenerCount('ready')
    // Twenty pipelines, two batches each in flight: forty batches wait on one client.
    const pipelines = Array.from({ length: 20 }, () =>
      createRedisBatchSQL(client, { flushSize: 1, timeoutMs: 30_000 }),
    )
    try {
      const written = pipelines.flatMap((b, i) => [
        b.submitAndWait(incr, { key: `k${i}`, by: 1 }),
        b.submitAndWait(incr, { key: `k${i}`, by: 2 }),
      ])
      await new Promise((r) => setTimeout(r, 300))
      // Each pipeline's connection watch has its own ready listener; the wait adds one.
      expect(client.listenerCount('ready') - baseline).toBeLessThanOrEqual(pipelines.length + 1)
      expect(client.listenerCount('reconnecting')).toBeLessThanOrEqual(1)
      await script('redis-single.sh', 'start', downPort)
      await Promise.all(written)
      const values = await Promise.all(pipelines.map((_, i) => client.get(`${prefix}k${i}`)))
      expect(values).toEqual(pipelines.map(() => '3'))
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([])
      await client.del(...pipelines.map((_, i) => `${prefix}k${i}`))
    } finally {
      process.off('warning', onWarning)
      await Promise.all(pipelines.map((b) => b.close()))
      client.disconnect()
      await script('redis-single.sh', 'stop', downPort)
    }
  })
})
