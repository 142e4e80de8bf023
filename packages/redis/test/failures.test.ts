import {
  BatchFailedError,
  type BatchFailure,
  type BatchMetrics,
  NoopMetricsReporter,
} from '@batchsql/core'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import {
  classifyRedisError,
  createRedisBatchSQL,
  RedisProcessor,
  redisSchemas,
} from '../src/index.js'
import { connect, dropPrefix, REDIS_URL, script, uniquePrefix } from './helpers.js'

let redis: Redis
const prefix = uniquePrefix('failures')

beforeAll(() => {
  redis = connect()
})
afterAll(async () => {
  await dropPrefix(redis, prefix)
  await redis.quit()
})

function replyError(message: string): Error {
  const e = new Error(message)
  e.name = 'ReplyError'
  return e
}

describe('classification', () => {
  it.each([
    ['LOADING Redis is loading the dataset in memory', 'io', true],
    ['BUSY Redis is busy running a script.', 'lock_timeout', true],
    ['TRYAGAIN Multiple keys request during rehashing of slot', 'connection', true],
    ['CLUSTERDOWN The cluster is down', 'connection', true],
    ['MASTERDOWN Link with MASTER is down', 'connection', true],
    ['NOREPLICAS Not enough good replicas to write.', 'connection', true],
    ['MOVED 3999 127.0.0.1:7002', 'connection', true],
    ['ASK 3999 127.0.0.1:7002', 'connection', true],
    ['WRONGTYPE Operation against a key holding the wrong kind of value', 'data', false],
    ["OOM command not allowed when used memory > 'maxmemory'.", 'non_retryable', false],
    ['ERR syntax error', 'syntax', false],
    ["ERR wrong number of arguments for 'set' command", 'syntax', false],
    ['ERR value is not an integer or out of range', 'data', false],
    ['ERR increment or decrement would overflow', 'data', false],
    ["ERR invalid expire time in 'setex' command", 'data', false],
    ['ERR hash value is not a float', 'data', false],
  ])('%s', (message, reason, retryable) => {
    expect(classifyRedisError(replyError(message))).toEqual({ reason, retryable })
  })

  it('treats connection loss as retryable and leaves unknown errors to core', () => {
    expect(classifyRedisError(new Error('Connection is closed.'))).toEqual({
      reason: 'connection',
      retryable: true,
    })
    const max = new Error('Reached the max retries per request limit')
    max.name = 'MaxRetriesPerRequestError'
    expect(classifyRedisError(max)?.retryable).toBe(true)
    expect(classifyRedisError(new Error('something else'))).toBeUndefined()
    expect(classifyRedisError(new BatchFailedError('t', 'connection', 1, 1, null))).toBeUndefined()
  })
})

describe('per-command failure isolation', () => {
  it('a WRONGTYPE in the middle of a batch fails only its own row', async () => {
    await redis.set(`${prefix}str`, 'not a list')
    const push = redisSchemas.push({ prefix, side: 'right' })
    const failures: BatchFailure[] = []
    const b = createRedisBatchSQL(redis, { flushSize: 100, onError: (f) => failures.push(f) })
    const acks: Promise<unknown>[] = []
    for (let i = 0; i < 21; i++) {
      const key = i === 10 ? 'str' : 'list'
      acks.push(
        b.submitAndWait(push, { key, value: i }).then(
          () => 'ok',
          (e: unknown) => e,
        ),
      )
    }
    const results = await Promise.all(acks)
    const res = await b.close()
    expect(res.committed).toBe(20)
    expect(res.failed).toBe(1)
    expect(results.filter((r) => r === 'ok')).toHaveLength(20)
    const err = results[10] as BatchFailedError
    expect(err).toBeInstanceOf(BatchFailedError)
    expect(err.reason).toBe('data')
    expect(err.attempts).toBe(1) // not retried
    expect(String((err.cause as Error).message)).toMatch(/^WRONGTYPE/)
    // ioredis attached the command with its key and value: only its name and arity are left.
    expect((err.cause as { command?: unknown }).command).toEqual({ name: 'rpush', argCount: 2 })
    expect(failures).toHaveLength(1)
    expect(failures[0]!.rows[0]!.get('value')).toBe(10)
    const list = await redis.lrange(`${prefix}list`, 0, -1)
    expect(list).toEqual(Array.from({ length: 21 }, (_, i) => String(i)).filter((v) => v !== '10'))
    expect(await redis.get(`${prefix}str`)).toBe('not a list')
  })

  it('a WRONGTYPE inside MULTI/EXEC fails only its own row too', async () => {
    await redis.set(`${prefix}str2`, 'x')
    const incr = redisSchemas.incr({ prefix })
    const b = createRedisBatchSQL(redis, { atomic: true, flushSize: 10 })
    const acks: Promise<unknown>[] = []
    for (let i = 0; i < 10; i++) {
      await redis.hset(`${prefix}hash`, 'f', 1) // a hash: INCRBY on it is WRONGTYPE
      const key = i === 4 ? 'hash' : 'counter'
      acks.push(
        b.submitAndWait(incr, { key, by: 1 }).then(
          () => 'ok',
          (e: unknown) => e,
        ),
      )
    }
    const results = await Promise.all(acks)
    await b.close()
    expect((results[4] as BatchFailedError).reason).toBe('data')
    expect(results.filter((r) => r === 'ok')).toHaveLength(9)
    expect(await redis.get(`${prefix}counter`)).toBe('9')
  })
})

describe('atomic: true on a connection that may not run MULTI', () => {
  // An ACL user without MULTI (or a renamed MULTI, a proxy without transactions): the server
  // refuses MULTI, runs each command at once, then refuses EXEC ("without MULTI"). Until
  // 2026-11-30 every row was reported failed (BATCHSQL_BATCH_FAILED) though every command had
  // been applied: a caller replaying its failed rows applied each INCRBY twice.
  const user = `bsqltest_nomulti_${process.pid}`
  afterAll(async () => {
    await redis.call('ACL', 'DELUSER', user)
  })

  it('reports its rows BATCHSQL_OUTCOME_UNKNOWN, never failed-for-certain', async () => {
    await redis.call('ACL', 'SETUSER', user, 'on', 'nopass', '~*', '+@all', '-multi')
    const limited = new Redis(REDIS_URL, { username: user, maxRetriesPerRequest: 1 })
    const incr = redisSchemas.incr({ prefix: `${prefix}nomulti:` })
    const b = createRedisBatchSQL(limited, { atomic: true, flushSize: 5 })
    try {
      const results = await Promise.all(
        Array.from({ length: 5 }, () =>
          b.submitAndWait(incr, { key: 'n', by: 1 }).then(
            () => 'ok',
            (e: BatchFailedError) => e.code,
          ),
        ),
      )
      const result = await b.close()
      // The server applied every command; none may be reported as surely not written.
      expect(await redis.get(`${prefix}nomulti:n`)).toBe('5')
      expect(results).toEqual(Array(5).fill('BATCHSQL_OUTCOME_UNKNOWN'))
      expect(result).toMatchObject({ committed: 0, failed: 5 })
    } finally {
      limited.disconnect()
    }
  })
})

describe("the application's own MULTI open on the client", () => {
  // Redis answers QUEUED to every command while the application's transaction is open: none
  // ran, each runs at its EXEC or never. Counted written, a DISCARD lost them silently.
  it.each(['discard', 'exec'] as const)(
    'commands queued in it are not counted written: reported BATCHSQL_OUTCOME_UNKNOWN (%s)',
    async (end) => {
      const app = connect()
      const incr = redisSchemas.incr({ prefix: `${prefix}foreign:${end}:` })
      const set = redisSchemas.set({ prefix: `${prefix}foreign:${end}:` })
      const b = createRedisBatchSQL(app, {
        flushSize: 6,
        retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 2 },
      })
      try {
        await app.multi({ pipeline: false })
        const acks = [
          ...[0, 1, 2].map((i) => b.submitAndWait(incr, { key: `n${i}`, by: 1 })),
          ...[0, 1, 2].map((i) => b.submitAndWait(set, { key: `s${i}`, value: 'v' })),
        ].map((p) =>
          p.then(
            () => 'ok',
            (e: BatchFailedError) => `${e.code}:${e.reason}`,
          ),
        )
        const results = await Promise.all(acks)
        expect(results).toEqual(Array(6).fill('BATCHSQL_OUTCOME_UNKNOWN:lock_timeout'))
        await (end === 'discard' ? app.discard() : app.exec())
        const values = await redis.mget(
          ...[0, 1, 2].flatMap((i) => [
            `${prefix}foreign:${end}:n${i}`,
            `${prefix}foreign:${end}:s${i}`,
          ]),
        )
        // EXEC runs every copy queued: each INCRBY once (never re-sent), each SET 3 times.
        expect(values).toEqual(
          end === 'discard' ? Array(6).fill(null) : ['1', 'v', '1', 'v', '1', 'v'],
        )
        expect(b.stats()).toMatchObject({ committed: 0, failed: 6 })
      } finally {
        await b.close()
        app.disconnect()
      }
    },
  )
})

describe('retries never apply a command twice', () => {
  it('a partly failed pipeline re-sends only its failed commands', async () => {
    // A real error reply made retryable by a user classifier; the key is fixed between the
    // attempts, so the second attempt succeeds. A whole-batch retry would push twice.
    await redis.hset(`${prefix}blocked_l`, 'f', 'a hash for now')
    await redis.hset(`${prefix}blocked_n`, 'f', 'a hash for now')
    const push = redisSchemas.push({ prefix, side: 'right' })
    const incr = redisSchemas.incr({ prefix, name: 'incr_partial' })
    const b = createRedisBatchSQL(redis, {
      flushSize: 1000,
      flushInterval: 5,
      classifiers: [
        (e) =>
          (e as Error)?.message?.startsWith('WRONGTYPE')
            ? { reason: 'data', retryable: true }
            : undefined,
      ],
      retry: { maxAttempts: 2, initialDelayMs: 300, jitter: 'none' },
    })
    const acks: Promise<void>[] = []
    for (let i = 0; i < 100; i++) {
      acks.push(b.submitAndWait(push, { key: i === 50 ? 'blocked_l' : 'partial', value: i }))
      acks.push(b.submitAndWait(incr, { key: i === 50 ? 'blocked_n' : 'partial_n', by: 1 }))
    }
    while (
      (await redis.llen(`${prefix}partial`)) < 99 ||
      (await redis.get(`${prefix}partial_n`)) !== '99'
    ) {
      await new Promise((r) => setTimeout(r, 5))
    }
    await redis.del(`${prefix}blocked_l`, `${prefix}blocked_n`)
    await Promise.all(acks)
    const res = await b.close()
    expect(res.failed).toBe(0)
    expect(await redis.llen(`${prefix}partial`)).toBe(99)
    expect(await redis.get(`${prefix}partial_n`)).toBe('99')
    // Both retried commands ran exactly once.
    expect(await redis.lrange(`${prefix}blocked_l`, 0, -1)).toEqual(['50'])
    expect(await redis.get(`${prefix}blocked_n`)).toBe('1')
  })

  // A private server: its BUSY threshold is lowered and a script blocks it, which would
  // disturb the other users of the shared server.
  const port = process.env.REDIS_SINGLE_PORT ?? '6390'
  let own: Redis
  let blocker: Redis
  beforeAll(async () => {
    await script('redis-single.sh', 'start', port)
    own = connect(`redis://127.0.0.1:${port}`)
    blocker = connect(`redis://127.0.0.1:${port}`)
    await own.config('SET', 'busy-reply-threshold', '20')
  })
  afterAll(async () => {
    own.disconnect()
    blocker.disconnect()
    await script('redis-single.sh', 'stop', port)
  })

  it('BUSY replies mid-run: only the rejected commands are re-sent, in order', async () => {
    const p = uniquePrefix('busy')
    const incr = redisSchemas.incr({ prefix: p })
    const push = redisSchemas.push({ prefix: p, side: 'right' })
    // A BUSY window that ends half way through a pipeline leaves rejected commands before a
    // later one on their key that ran: those are reported (final), not re-sent out of order.
    const overtaken: BatchFailure[] = []
    const b = createRedisBatchSQL(own, {
      flushSize: 200,
      flushInterval: 2,
      retry: { maxAttempts: 50, initialDelayMs: 10, maxDelayMs: 50, jitter: 'none' },
      onError: (f) => overtaken.push(f),
    })
    let retried = 0
    b.withMetricsReporter(
      new (class extends NoopMetricsReporter {
        override recordError(_db: string, _table: string, kind: string): void {
          if (kind === 'retry:lock_timeout') retried++
        }
      })(),
    )
    const N = 20_000
    const producer = (async () => {
      for (let i = 0; i < N; i++) {
        await b.submit(incr, { key: `c${i % 10}`, by: 1 })
        await b.submit(push, { key: `l${i % 10}`, value: i })
        if (i % 500 === 0) await new Promise((r) => setImmediate(r))
      }
    })()
    // Block the server three times with a script that runs past the BUSY threshold.
    for (let k = 0; k < 3; k++) {
      await new Promise((r) => setTimeout(r, 40))
      const t0 = Date.now()
      await blocker.eval(
        `local t = redis.call('TIME') local s = t[1]*1000000+t[2]
         while true do local n = redis.call('TIME') if n[1]*1000000+n[2]-s > 150000 then break end end
         return 1`,
        0,
      )
      expect(Date.now() - t0).toBeGreaterThanOrEqual(100)
    }
    await producer
    const res = await b.close()
    expect(res.committed + res.failed).toBe(2 * N)
    expect(retried).toBeGreaterThan(0)
    // What was not written is exactly what was reported; the rest is there once, in order.
    const lost = new Set<string>()
    for (const f of overtaken) {
      expect(f.error).toMatchObject({ code: 'BATCHSQL_BATCH_FAILED', reason: 'lock_timeout' })
      const hasValue = f.schema.columns.includes('value')
      for (const r of f.rows)
        lost.add(`${f.schema.table}:${r.get('key')}:${hasValue ? r.get('value') : ''}`)
    }
    expect(overtaken.reduce((n, f) => n + f.rows.length, 0)).toBe(res.failed)
    for (let k = 0; k < 10; k++) {
      const incrs = [...lost].filter((x) => x.startsWith(`${incr.table}:c${k}:`)).length
      expect(await own.get(`${p}c${k}`)).toBe(String(N / 10 - incrs))
      const list = await own.lrange(`${p}l${k}`, 0, -1)
      expect(list).toEqual(
        Array.from({ length: N / 10 }, (_, j) => String(j * 10 + k)).filter(
          (v) => !lost.has(`${push.table}:l${k}:${v}`),
        ),
      )
    }
  })
  it('a failed command that a later command on its key got past is final, never re-sent after it', async () => {
    // Deterministic stand-in for a BUSY window ending half way through a pipeline: under
    // maxmemory, INCR is refused (OOM) while the EXPIRE after it on the same key runs. Made
    // retryable by a classifier of the user's, and memory freed before the retry, the INCR
    // would then run after the EXPIRE: the key left without the TTL submit order gives it.
    const p = uniquePrefix('overtaken')
    const g = redisSchemas.command({ prefix: p, columns: ['cmd', 'key', 'a'] })
    await own.config('SET', 'maxmemory', '1')
    const failures: BatchFailure[] = []
    try {
      const b = createRedisBatchSQL(own, {
        flushSize: 3,
        flushInterval: 60_000,
        retry: { maxAttempts: 5, initialDelayMs: 100, jitter: 'none' },
        classifiers: [
          (e) => {
            if (!(e instanceof Error) || !e.message.startsWith('OOM')) return undefined
            void own.config('SET', 'maxmemory', '0') // the retry would now succeed
            return { reason: 'io', retryable: true }
          },
        ],
        onError: (f) => failures.push(f),
      })
      await b.submitMany(g, [
        { cmd: 'INCR', key: 'k' },
        { cmd: 'EXPIRE', key: 'k', a: 100 },
        { cmd: 'INCR', key: 'other' }, // refused too, nothing after it: retried, written
      ])
      const result = await b.close()
      expect(result).toMatchObject({ committed: 2, failed: 1 })
      expect(failures).toHaveLength(1)
      expect(failures[0]!.rows[0]!.get('cmd')).toBe('INCR')
      expect(failures[0]!.rows[0]!.get('key')).toBe('k')
      expect(failures[0]!.error).toBeInstanceOf(BatchFailedError)
      // Not re-sent: `k` never got its INCR after the EXPIRE (it would exist without a TTL).
      expect(await own.exists(`${p}k`)).toBe(0)
      expect(await own.get(`${p}other`)).toBe('1')
    } finally {
      await own.config('SET', 'maxmemory', '0')
      await dropPrefix(own, p)
    }
  })

  it('commands folded into one that failed and was retried are counted as deduplicated once', async () => {
    const p = uniquePrefix('dedup')
    const g = redisSchemas.command({ prefix: p, columns: ['cmd', 'key', 'a'] })
    let deduplicated = 0
    const metrics = new (class extends NoopMetricsReporter {
      override recordBatch(m: BatchMetrics) {
        deduplicated += m.deduplicated ?? 0
      }
    })()
    await own.config('SET', 'maxmemory', '1')
    try {
      const b = createRedisBatchSQL(own, {
        flushSize: 2,
        flushInterval: 60_000,
        metrics,
        retry: { maxAttempts: 3, initialDelayMs: 50, jitter: 'none' },
        classifiers: [
          (e) => {
            if (!(e instanceof Error) || !e.message.startsWith('OOM')) return undefined
            void own.config('SET', 'maxmemory', '0') // the retry succeeds
            return { reason: 'io', retryable: true }
          },
        ],
      })
      // Folded into the second SET, refused (OOM), retried with the first folded into it again.
      await b.submitMany(g, [
        { cmd: 'SET', key: 'k', a: '1' },
        { cmd: 'SET', key: 'k', a: '2' },
      ])
      expect(await b.close()).toMatchObject({ committed: 2, failed: 0 })
      expect(await own.get(`${p}k`)).toBe('2')
      expect(deduplicated).toBe(1)
    } finally {
      await own.config('SET', 'maxmemory', '0')
      await dropPrefix(own, p)
    }
  })
})

describe('a client BatchSQL created, its server unreachable', () => {
  it('close() drops it at once (QUIT would wait out every reconnection), and its errors are not printed', async () => {
    const printed = vi.spyOn(console, 'error').mockImplementation(() => {})
    try {
      const failures: BatchFailure[] = []
      const b = createRedisBatchSQL('redis://127.0.0.1:1', {
        timeoutMs: 300,
        retry: { maxAttempts: 1 },
        onError: (f) => failures.push(f),
      })
      await b.submit(redisSchemas.set({ prefix }), { key: 'k', value: 'v' })
      const result = await b.close()
      // Reported, not lost: the row failed (or may have been sent, had it reached a server).
      expect(result).toMatchObject({ accepted: 1, committed: 0 })
      expect(result.failed + result.abandonedRows).toBe(1)
      // ioredis prints "[ioredis] Unhandled error event" for a client without an error listener.
      expect(printed.mock.calls.filter((c) => String(c[0]).includes('ioredis'))).toEqual([])
    } finally {
      printed.mockRestore()
    }
  })

  it('an owned client that is not connected is disconnected, not sent QUIT', async () => {
    const { Redis } = await import('ioredis')
    const client = new Redis('redis://127.0.0.1:1')
    client.on('error', () => {})
    // Refused once and retrying, a command queued (a batch the executor gave up on): a QUIT
    // now waits behind it in the offline queue, through every reconnection attempt.
    await new Promise((r) => client.once('reconnecting', r))
    void client.get('k').catch(() => {})
    let attempts = 0
    client.on('reconnecting', () => attempts++)
    const p = new RedisProcessor(client, { ownsClient: true })
    const closing = p.close().then(() => 'closed')
    // Dropped: close() settles and no further connection is attempted (ioredis retries after
    // 50 ms, then more slowly).
    await new Promise((r) => setTimeout(r, 300))
    expect(await Promise.race([closing, 'pending'])).toBe('closed')
    expect(attempts).toBe(0)
  })
})
