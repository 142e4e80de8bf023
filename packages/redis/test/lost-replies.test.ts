import type { BatchFailure } from '@batchsql/core'
import { Redis } from 'ioredis'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { createRedisBatchSQL, redisSchemas } from '../src/index.js'
import {
  connect,
  dropPrefix,
  lostReplyOptions,
  REDIS_URL,
  replySwallower,
  uniquePrefix,
} from './helpers.js'

const admin = connect()
afterAll(() => admin.disconnect())

describe('replies lost in transit, then the connection reset', () => {
  // Both ways of getting a client: BatchSQL's own (from a URL) and the user's, left with
  // ioredis's default `autoResendUnfulfilledCommands: true`, which re-sends the commands
  // that got no reply on the next connection.
  it.each(['own client', 'your client'] as const)(
    '%s: an INCRBY or RPUSH that may have run is reported BATCHSQL_OUTCOME_UNKNOWN, never applied twice silently; a SET or HSET is retried',
    async (which) => {
      const prefix = uniquePrefix('lost')
      const proxy = await replySwallower()
      const yours = which === 'your client' ? new Redis(proxy.url) : undefined
      yours?.on('error', () => {})
      const incr = redisSchemas.incr({ prefix })
      const push = redisSchemas.push({ prefix, side: 'right' })
      const set = redisSchemas.set({ prefix })
      const hset = redisSchemas.hset({ prefix })
      const failures: BatchFailure[] = []
      const batch = createRedisBatchSQL(yours ?? proxy.url, lostReplyOptions(failures))
      try {
        await batch.submitAndWait(incr, { key: 'n', by: 0 }) // connected
        proxy.swallow(true)
        const N = 100
        for (let i = 0; i < N; i++) {
          await batch.submit(incr, { key: 'n', by: 1 })
          await batch.submit(push, { key: 'list', value: `v${i}` })
          await batch.submit(set, { key: `s${i}`, value: `v${i}` })
          // One hash, a field each: later HSETs of other fields that may have run do not
          // make one final (they commute), so each is retried like a SET.
          await batch.submit(hset, { key: 'h', field: `f${i}`, value: `v${i}` })
        }
        // Let the pipelines reach the server and run there, unanswered.
        // The application's own command, unanswered too: ioredis still sends it again.
        const yourSet = yours?.set(`${prefix}yours`, 'v')
        while (
          Number(await admin.get(`${prefix}n`)) < N ||
          (yours && !(await admin.exists(`${prefix}yours`)))
        )
          await new Promise((r) => setTimeout(r, 10))
        proxy.reset()
        proxy.swallow(false)
        const result = await batch.close()

        const unknown = (schema: unknown) =>
          failures
            .filter((f) => f.schema === schema)
            .reduce((n, f) => {
              expect(f.error.code).toBe('BATCHSQL_OUTCOME_UNKNOWN')
              return n + f.rows.length
            }, 0)
        // Every command ran on the server before the reset; none was acknowledged.
        expect(unknown(incr)).toBe(N)
        expect(unknown(push)).toBe(N)
        expect(failures.filter((f) => f.schema === set)).toEqual([])
        expect(failures.filter((f) => f.schema === hset)).toEqual([])
        expect(await admin.hlen(`${prefix}h`)).toBe(N)
        expect(result.failed).toBe(2 * N)
        const counter = Number(await admin.get(`${prefix}n`))
        const list = await admin.lrange(`${prefix}list`, 0, -1)
        // Not re-sent, by BatchSQL nor by ioredis (on the user's client, whose
        // autoResendUnfulfilledCommands is on, BatchSQL takes them out of what ioredis would
        // send again): each ran exactly once.
        expect(counter).toBe(N)
        expect(list).toHaveLength(N)
        if (yourSet) expect(await yourSet).toBe('OK')
        const sets = await admin.mget(Array.from({ length: N }, (_, i) => `${prefix}s${i}`))
        expect(sets).toEqual(Array.from({ length: N }, (_, i) => `v${i}`))
      } finally {
        yours?.disconnect()
        await proxy.close()
        await dropPrefix(admin, prefix)
      }
    },
  )

  it('a generic ZADD with INCR is an increment: a lost reply is reported BATCHSQL_OUTCOME_UNKNOWN, never sent twice; a flagged ZADD without INCR is retried', async () => {
    const prefix = uniquePrefix('lostzadd')
    const proxy = await replySwallower()
    const zadd = redisSchemas.command({
      prefix,
      columns: ['cmd', 'key', 'a1', 'a2', 'a3', 'a4'] as const,
    })
    const failures: BatchFailure[] = []
    const batch = createRedisBatchSQL(proxy.url, lostReplyOptions(failures))
    try {
      await batch.submitAndWait(zadd, { cmd: 'ZADD', key: 'z', a1: 'CH', a2: 10, a3: 'm' }) // connected
      proxy.swallow(true)
      await batch.submit(zadd, { cmd: 'ZADD', key: 'z', a1: 'XX', a2: 'incr', a3: 1, a4: 'm' })
      await batch.submit(zadd, { cmd: 'ZADD', key: 'y', a1: 'NX', a2: 'CH', a3: 5, a4: 'm' })
      // Both ran on the server (unanswered), whichever pipeline each went in.
      while (
        (await admin.zscore(`${prefix}z`, 'm')) !== '11' ||
        !(await admin.exists(`${prefix}y`))
      )
        await new Promise((r) => setTimeout(r, 10))
      proxy.reset()
      proxy.swallow(false)
      const result = await batch.close()
      expect(failures.map((f) => [f.rows.length, f.error.code])).toEqual([
        [1, 'BATCHSQL_OUTCOME_UNKNOWN'],
      ])
      expect(result.failed).toBe(1)
      expect(await admin.zscore(`${prefix}z`, 'm')).toBe('11') // 10, then +1 exactly once
      expect(await admin.zscore(`${prefix}y`, 'm')).toBe('5')
    } finally {
      await proxy.close()
      await dropPrefix(admin, prefix)
    }
  })

  it('a SET whose reply was lost and whose retries all fail is reported BATCHSQL_OUTCOME_UNKNOWN: it may have run', async () => {
    const prefix = uniquePrefix('lostset')
    const proxy = await replySwallower()
    // Fails a command at once while disconnected, instead of queueing it for 20 reconnections.
    const yours = new Redis(proxy.url, { maxRetriesPerRequest: 0 })
    yours.on('error', () => {})
    const set = redisSchemas.set({ prefix })
    const failures: BatchFailure[] = []
    const batch = createRedisBatchSQL(yours, {
      flushInterval: 5,
      retry: { maxAttempts: 3, initialDelayMs: 20, maxDelayMs: 50 },
      onError: (f) => failures.push(f),
    })
    try {
      await batch.submitAndWait(set, { key: 'warm', value: '1' })
      proxy.swallow(true)
      for (let i = 0; i < 10; i++) await batch.submit(set, { key: `s${i}`, value: `v${i}` })
      while ((await admin.exists(`${prefix}s9`)) === 0) await new Promise((r) => setTimeout(r, 10))
      proxy.refuse(true) // the server stays unreachable for every retry
      proxy.reset()
      await batch.close()
      expect(failures.flatMap((f) => f.rows)).toHaveLength(10)
      for (const f of failures) expect(f.error.code).toBe('BATCHSQL_OUTCOME_UNKNOWN')
      expect(await admin.get(`${prefix}s9`)).toBe('v9') // it had run indeed
    } finally {
      yours.disconnect()
      await proxy.close()
      await dropPrefix(admin, prefix)
    }
  })

  it('commands handed over while the server is unreachable are sent when it returns: written, not reported', async () => {
    // ioredis holds them in its offline queue, unsent, across failed reconnections (each of
    // which is a connection "close"): none of them may be taken for a lost reply.
    const prefix = uniquePrefix('outage')
    const proxy = await replySwallower()
    const yours = new Redis(proxy.url, { retryStrategy: () => 50 })
    yours.on('error', () => {})
    const incr = redisSchemas.incr({ prefix })
    const push = redisSchemas.push({ prefix, side: 'right' })
    const set = redisSchemas.set({ prefix })
    const batch = createRedisBatchSQL(yours, { flushInterval: 5, timeoutMs: 10_000 })
    try {
      await batch.submitAndWait(set, { key: 'warm', value: '1' })
      proxy.refuse(true)
      proxy.reset()
      const acks = [
        batch.submitAndWait(incr, { key: 'n', by: 1 }),
        batch.submitAndWait(push, { key: 'list', value: 'x' }),
        batch.submitAndWait(set, { key: 's', value: 'v' }),
      ].map((p) =>
        p.then(
          () => 'committed',
          (e: unknown) => (e as { code?: string }).code,
        ),
      )
      await new Promise((r) => setTimeout(r, 300)) // several failed reconnections (20 would fail the commands)
      proxy.refuse(false)
      expect(await Promise.all(acks)).toEqual(['committed', 'committed', 'committed'])
      await batch.close()
      expect(await admin.get(`${prefix}n`)).toBe('1')
      expect(await admin.lrange(`${prefix}list`, 0, -1)).toEqual(['x'])
      expect(await admin.get(`${prefix}s`)).toBe('v')
    } finally {
      yours.disconnect()
      await proxy.close()
      await dropPrefix(admin, prefix)
    }
  })
})

describe('a server that stops answering', () => {
  it('close() with a deadline returns, reports the command, and drops the connection it made', async () => {
    // QUIT waited behind the unanswered pipeline, and the socket kept the process alive as
    // long as the server was paused (QA 2026-11-29: 40 s after close() had returned).
    const prefix = uniquePrefix('paused')
    const proxy = await replySwallower()
    const push = redisSchemas.push({ prefix, side: 'right' })
    const failures: BatchFailure[] = []
    const batch = createRedisBatchSQL(proxy.url, lostReplyOptions(failures))
    try {
      await batch.submitAndWait(push, { key: 'a', value: 'before' }) // connected
      expect(proxy.connections()).toBe(1)
      proxy.swallow(true)
      const outcome = batch.submitAndWait(push, { key: 'b', value: 'paused' }).then(
        () => 'written',
        (e: unknown) => (e as { code?: string }).code,
      )
      while (!(await admin.exists(`${prefix}b`))) await new Promise((r) => setTimeout(r, 10))
      // Paused from now on: QUIT would not reach the server either.
      proxy.hang(true)
      await batch.close({ timeoutMs: 200 })
      expect(await outcome).toBe('BATCHSQL_OUTCOME_UNKNOWN')
      // Soon after: a second for QUIT, then the socket is dropped.
      await vi.waitFor(() => expect(proxy.connections()).toBe(0), { timeout: 10_000 })
    } finally {
      await proxy.close()
      await dropPrefix(admin, prefix)
    }
  })
})

describe('options', () => {
  it('a bad option is BATCHSQL_INVALID_CONFIG, and a client made from a URL for it is let go', async () => {
    const yours = connect()
    expect(() => createRedisBatchSQL(yours, { atomic: 'false' as never })).toThrow(
      expect.objectContaining({ code: 'BATCHSQL_INVALID_CONFIG' }),
    )
    yours.disconnect()
    // The process would otherwise stay alive on the client's connection.
    const script = `
      import { createRedisBatchSQL } from ${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)}
      try { createRedisBatchSQL(${JSON.stringify(REDIS_URL)}, { flushSize: 10, bufferSize: 5 }) }
      catch (e) { console.log(e.code) }`
    const { execFileSync } = await import('node:child_process')
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 10_000,
    })
    expect(out.trim()).toBe('BATCHSQL_INVALID_CONFIG')
  })
})

describe('many pipelines on one client', () => {
  it('twelve pipelines on one client: no MaxListenersExceededWarning, and the limit is back after close()', async () => {
    const client = connect()
    const before = client.getMaxListeners()
    const warnings: string[] = []
    const onWarning = (w: Error) => warnings.push(w.name)
    process.on('warning', onWarning)
    try {
      const batches = Array.from({ length: 12 }, () => createRedisBatchSQL(client))
      await new Promise((r) => setTimeout(r, 10))
      for (const b of batches) await b.close()
      expect(warnings.filter((w) => w === 'MaxListenersExceededWarning')).toEqual([])
      expect(client.getMaxListeners()).toBe(before)
    } finally {
      process.off('warning', onWarning)
      client.disconnect()
    }
  })
})
