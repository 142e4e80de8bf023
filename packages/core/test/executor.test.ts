import { describe, expect, it, vi } from 'vitest'
import {
  AbortedError,
  type Batch,
  BatchFailedError,
  type BatchMetrics,
  BatchSQLError,
  backoffDelay,
  ClassifierRegistry,
  createExecutor,
  createProcessorBatchSQL,
  defineSchema,
  FlatBatch,
  markInDoubt,
  NoopMetricsReporter,
  Request,
  retryPolicy,
  Semaphore,
  TimeoutError,
} from '../src/index.js'
import { MockProcessor } from '../src/testing.js'

const s = defineSchema({ table: 'items', columns: ['id'] })
const batch = (n: number) => ({
  schema: s,
  rows: Array.from({ length: n }, (_, i) => Request.from(s, { id: i })),
})
/** The same rows buffered as one array (submit() / submitMany() rows), as the pipeline sends them. */
const flat = (n: number) =>
  new FlatBatch(
    s,
    Array.from({ length: n }, (_, i) => i),
  )
const retryable = Object.assign(new Error('deadlock'), { code: 'DEADLOCK' })
const classifiers = [
  (e: unknown) =>
    (e as { code?: string }).code === 'DEADLOCK'
      ? { reason: 'deadlock' as const, retryable: true }
      : undefined,
]
const fast = { initialDelayMs: 1, maxDelayMs: 2 }

describe('RetryingExecutor', () => {
  it('retries a retryable error, then succeeds', async () => {
    let calls = 0
    const p = new MockProcessor({
      onBatch: () => {
        if (++calls === 1) throw retryable
      },
    })
    const ex = createExecutor(p, { classifiers, retry: fast })
    const out = await ex.execute(batch(3), new AbortController().signal)
    expect(out).toMatchObject({ committed: 3, failures: [], attempts: 2 })
    expect(p.rows()).toHaveLength(3)
  })

  it("a sink's BATCHSQL_OUTCOME_UNKNOWN is final whatever the classifiers say, with table and rows", async () => {
    let calls = 0
    const p = new MockProcessor({
      onBatch: () => {
        calls++
        throw new BatchSQLError('BATCHSQL_OUTCOME_UNKNOWN', 'the commit may have happened')
      },
    })
    // A blanket user classifier that would retry anything: a retry could write the rows twice.
    const everything = () => ({ reason: 'connection' as const, retryable: true })
    const ex = createExecutor(p, { classifiers: [everything], retry: { ...fast, maxAttempts: 5 } })
    const out = await ex.execute(batch(4), new AbortController().signal)
    expect(calls).toBe(1)
    expect(out).toMatchObject({ committed: 0, attempts: 1 })
    expect(out.failures).toHaveLength(1)
    const e = out.failures[0]!.error
    expect(e).toBeInstanceOf(BatchFailedError)
    expect(e).toMatchObject({ code: 'BATCHSQL_OUTCOME_UNKNOWN', table: 'items', rowCount: 4 })
  })

  it('a non-retryable error goes final at once, with the rows', async () => {
    const p = new MockProcessor({
      onBatch: () => {
        throw Object.assign(new Error('syntax'), { code: 'X' })
      },
    })
    const ex = createExecutor(p, { retry: { ...fast, maxAttempts: 5 } })
    const out = await ex.execute(batch(4), new AbortController().signal)
    expect(out.attempts).toBe(1)
    expect(out.committed).toBe(0)
    expect(out.failures).toHaveLength(1)
    expect(out.failures[0]!.rows).toHaveLength(4)
    expect(out.failures[0]!.reason).toBe('unknown')
    expect(out.failures[0]!.error).toBeInstanceOf(BatchFailedError)
    expect((out.failures[0]!.error.cause as Error).message).toBe('syntax')
  })

  it('gives up after maxAttempts of retryable errors', async () => {
    const p = new MockProcessor({
      onBatch: () => {
        throw retryable
      },
    })
    const ex = createExecutor(p, { classifiers, retry: { ...fast, maxAttempts: 3 } })
    const out = await ex.execute(batch(2), new AbortController().signal)
    expect(out.attempts).toBe(3)
    expect(out.failures[0]).toMatchObject({ reason: 'deadlock', attempts: 3 })
    expect(p.attempts).toHaveLength(3)
  })

  it.each([
    ['Requests', batch],
    [
      'a flat batch',
      (n: number) =>
        new FlatBatch(
          s,
          Array.from({ length: n }, (_, i) => i),
        ),
    ],
  ] as const)(
    'retries only the rows that failed retryably; committed rows are never re-sent (%s)',
    async (_kind, make) => {
      const p = new MockProcessor({
        onBatch: (_b, ctx) =>
          ctx.attempt === 1
            ? {
                failures: [
                  { index: 1, error: retryable },
                  { index: 2, error: new Error('bad row') },
                ],
              }
            : undefined,
      })
      const ex = createExecutor(p, { classifiers, retry: fast })
      const out = await ex.execute(make(4), new AbortController().signal)
      expect(out.committed).toBe(3)
      expect(out.failures).toHaveLength(1)
      expect(out.failures[0]!.rows.map((r) => r.get('id'))).toEqual([2])
      expect(p.attempts[1]!.rows).toEqual([{ id: 1 }])
      expect(
        p
          .rows()
          .map((r) => r.id)
          .sort(),
      ).toEqual([0, 1, 3])
    },
  )

  it('times out an attempt, aborting it, and retries', async () => {
    let calls = 0
    const p = new MockProcessor({
      onBatch: (_b, ctx) =>
        ++calls === 1
          ? new Promise((_, reject) =>
              ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)),
            )
          : undefined,
    })
    const ex = createExecutor(p, { timeoutMs: 20, retry: fast })
    const out = await ex.execute(batch(1), new AbortController().signal)
    expect(out).toMatchObject({ committed: 1, attempts: 2 })
  })

  it('a timeout on the last attempt is final with reason timeout', async () => {
    const p = new MockProcessor({
      onBatch: (_b, ctx) =>
        new Promise((_, reject) =>
          ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)),
        ),
    })
    const ex = createExecutor(p, { timeoutMs: 10, retry: { ...fast, maxAttempts: 2 } })
    const out = await ex.execute(batch(1), new AbortController().signal)
    expect(out.failures[0]).toMatchObject({ reason: 'timeout', attempts: 2 })
    expect(out.failures[0]!.error.cause).toBeInstanceOf(TimeoutError)
  })

  it('an attempt that ignores its abort past a second timeout is final, of unknown outcome', async () => {
    let release!: () => void
    const p = new MockProcessor({
      // Neither settles nor listens: a statement the server keeps running.
      onBatch: () => new Promise<undefined>((r) => (release = () => r(undefined))),
    })
    const ex = createExecutor(p, { timeoutMs: 10, retry: { ...fast, maxAttempts: 3 } })
    const out = await ex.execute(batch(1), new AbortController().signal)
    // Not retried (the first attempt may still commit), and said to be unknown, not failed.
    expect(out.failures[0]).toMatchObject({ reason: 'timeout', attempts: 1 })
    expect(out.failures[0]!.error.code).toBe('BATCHSQL_OUTCOME_UNKNOWN')
    release()
  })

  it('an abort during backoff is a final context_canceled failure', async () => {
    const ctl = new AbortController()
    const p = new MockProcessor({
      onBatch: () => {
        setImmediate(() => ctl.abort())
        throw retryable
      },
    })
    const ex = createExecutor(p, {
      classifiers,
      retry: { initialDelayMs: 60_000, maxDelayMs: 60_000, jitter: 'none' },
    })
    const out = await ex.execute(batch(2), ctl.signal)
    expect(out.failures[0]).toMatchObject({ reason: 'context_canceled', attempts: 1 })
    expect(out.failures[0]!.rows).toHaveLength(2)
    expect(out.failures[0]!.error.cause).toBe(retryable) // what the retry was for
  })

  it('a batch in backoff holds no slot: another runs to the end during it', async () => {
    const p = new MockProcessor({
      onBatch: (b) => {
        if (b.rows[0]!.get('id') === 'a') throw retryable
      },
    })
    const ex = createExecutor(p, {
      concurrency: 1,
      classifiers,
      retry: { initialDelayMs: 60_000, maxDelayMs: 60_000, jitter: 'none' },
    })
    const stopA = new AbortController()
    // a takes the one slot first, fails, and backs off for a minute.
    const a = ex.execute({ schema: s, rows: [Request.from(s, { id: 'a' })] }, stopA.signal)
    // b completes meanwhile: it could not, had a's backoff kept the slot.
    const b = await ex.execute(
      { schema: s, rows: [Request.from(s, { id: 'b' })] },
      new AbortController().signal,
    )
    expect(b.committed).toBe(1)
    stopA.abort()
    expect((await a).failures[0]).toMatchObject({ reason: 'context_canceled', attempts: 1 })
  })

  it('never exceeds the concurrency limit, retries included', async () => {
    let failedOnce = new Set<number>()
    const p = new MockProcessor({
      delayMs: 2,
      onBatch: (b) => {
        const id = b.rows[0]!.get('id') as number
        if (!failedOnce.has(id)) {
          failedOnce.add(id)
          throw retryable
        }
      },
    })
    const ex = createExecutor(p, {
      concurrency: 3,
      classifiers,
      retry: { initialDelayMs: 5, maxDelayMs: 5, jitter: 'none' },
    })
    const signal = new AbortController().signal
    const outs = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        ex.execute({ schema: s, rows: [Request.from(s, { id: i })] }, signal),
      ),
    )
    expect(outs.every((o) => o.committed === 1)).toBe(true)
    expect(p.maxRunning).toBeLessThanOrEqual(3)
    expect(ex.maxConcurrencyObserved).toBe(3)
    failedOnce = new Set()
  })
})

describe('ClassifierRegistry', () => {
  it('consults user classifiers first, then the sink, then built-ins', () => {
    const err = Object.assign(new Error('x'), { code: 'ECONNRESET' })
    expect(new ClassifierRegistry().classify(err)).toEqual({
      reason: 'connection',
      retryable: true,
    })
    const sink = () => ({ reason: 'io' as const, retryable: true })
    const user = () => ({ reason: 'non_retryable' as const, retryable: false })
    expect(new ClassifierRegistry([], [sink]).classify(err).reason).toBe('io')
    expect(new ClassifierRegistry([user], [sink]).classify(err).reason).toBe('non_retryable')
    expect(new ClassifierRegistry().classify(new Error('?'))).toEqual({
      reason: 'unknown',
      retryable: false,
    })
  })

  it('a reason outside ErrorReason (an unbounded label value) becomes unknown, retried as said', () => {
    const warned = vi.spyOn(process, 'emitWarning').mockImplementation(() => {})
    const byMessage = (e: unknown) => ({ reason: (e as Error).message, retryable: true }) as never
    const registry = new ClassifierRegistry([byMessage])
    expect(registry.classify(new Error('connection reset by peer 10.0.0.7'))).toEqual({
      reason: 'unknown',
      retryable: true,
    })
    const sloppy = () => ({ reason: 'data', retryable: 'no' }) as never
    expect(new ClassifierRegistry([], [sloppy]).classify(new Error('x'))).toEqual({
      reason: 'unknown',
      retryable: false,
    })
    // Nor through a BatchFailedError thrown with such a reason.
    const thrown = new BatchFailedError('t', 'row 17: value too long' as never, 1, 1, null)
    expect(new ClassifierRegistry().classify(thrown).reason).toBe('unknown')
    expect(warned.mock.calls.length).toBeLessThanOrEqual(1) // once per process
    warned.mockRestore()
  })
})

describe('Semaphore', () => {
  it('abort while waiting for a slot rejects and frees nothing', async () => {
    const sem = new Semaphore(1)
    await sem.acquire()
    const ctl = new AbortController()
    const waiting = sem.acquire(ctl.signal)
    ctl.abort()
    await expect(waiting).rejects.toThrow(/aborted/)
    sem.release()
    await sem.acquire()
    expect(sem.held).toBe(1)
  })
})

describe('RetryingExecutor with a flat batch (rows buffered without a Request each)', () => {
  it('hands the batch itself to the processor and counts its rows without building them', async () => {
    const seen: Batch[] = []
    const ex = createExecutor({
      name: 'p',
      process: async (b) => {
        seen.push(b)
      },
    })
    const b = flat(5)
    const out = await ex.execute(b, new AbortController().signal)
    expect(out).toEqual({ committed: 5, failures: [], attempts: 1 })
    expect(seen).toEqual([b])
    expect(seen[0]!.values).toEqual([0, 1, 2, 3, 4])
    expect((b as unknown as { built?: unknown }).built).toBeUndefined()
  })

  it('retries the whole flat batch after a retryable error', async () => {
    const p = new MockProcessor({
      onBatch: (_b, ctx) => {
        if (ctx.attempt === 1) throw retryable
      },
    })
    const ex = createExecutor(p, { classifiers, retry: fast })
    const out = await ex.execute(flat(3), new AbortController().signal)
    expect(out.committed).toBe(3)
    expect(out.attempts).toBe(2)
    expect(p.rows().map((r) => r.id)).toEqual([0, 1, 2])
  })

  it('refuses a bad config with one typed error', () => {
    for (const options of [
      { concurrency: 0 },
      { concurrency: 1.5 },
      { timeoutMs: Number.NaN },
      { retry: { maxAttempts: 0 } },
      { retry: { initialDelayMs: -5 } },
      { retry: { maxDelayMs: -1 } },
      { retry: { multiplier: 0.5 } },
    ]) {
      expect(() => createExecutor(new MockProcessor(), options), JSON.stringify(options)).toThrow(
        expect.objectContaining({ code: 'BATCHSQL_INVALID_CONFIG' }),
      )
    }
  })

  it('an undefined retry setting keeps its default (not a NaN backoff)', () => {
    const ex = createExecutor(new MockProcessor(), {
      retry: { initialDelayMs: undefined, maxDelayMs: undefined, jitter: 'none' },
    })
    const policy = (ex as unknown as { policy: Parameters<typeof backoffDelay>[0] }).policy
    expect([1, 2, 3].map((a) => backoffDelay(policy, a))).toEqual([50, 100, 200])
  })

  it('no initial delay is no delay, whatever the multiplier (0 x Infinity was a NaN timer)', () => {
    const policy = retryPolicy({ initialDelayMs: 0, multiplier: Number.POSITIVE_INFINITY })
    for (const jitter of ['none', 'full'] as const)
      expect([1, 2, 3].map((a) => backoffDelay({ ...policy, jitter }, a, () => 0.5))).toEqual([
        0, 0, 0,
      ])
    // A power that overflows is the same 0 x Infinity.
    expect(backoffDelay(retryPolicy({ initialDelayMs: 0, multiplier: 1e300 }), 3)).toBe(0)
    // With an initial delay, Infinity is the cap from the second backoff on.
    const capped = retryPolicy({ initialDelayMs: 10, multiplier: Infinity, jitter: 'none' })
    expect([1, 2].map((a) => backoffDelay(capped, a))).toEqual([10, 5_000])
  })
})

describe('rows that may have been written', () => {
  const connection = () => Object.assign(new Error('connection reset'), { code: 'ECONNRESET' })

  it('an attempt that times out and then stops with BATCHSQL_OUTCOME_UNKNOWN is reported so, never retried', async () => {
    // The reply of a committing statement stalled past timeoutMs, then the connection
    // dropped: the sink says the outcome is unknown. Retrying would write the rows twice.
    let calls = 0
    const p = new MockProcessor({
      onBatch: async (_b, ctx) => {
        calls++
        await new Promise((r) => ctx.signal.addEventListener('abort', r, { once: true }))
        throw new BatchSQLError('BATCHSQL_OUTCOME_UNKNOWN', 'the commit may have happened')
      },
    })
    const ex = createExecutor(p, { timeoutMs: 20, retry: { ...fast, maxAttempts: 5 } })
    const out = await ex.execute(batch(3), new AbortController().signal)
    expect(calls).toBe(1)
    expect(out.committed).toBe(0)
    expect(out.failures).toHaveLength(1)
    expect(out.failures[0]!.error).toMatchObject({ code: 'BATCHSQL_OUTCOME_UNKNOWN' })
  })

  it('an attempt that times out and then stops with a plain error is retried, the error kept as the timeout’s cause', async () => {
    const stopped = new Error('canceled by the server')
    let calls = 0
    const p = new MockProcessor({
      onBatch: async (_b, ctx) => {
        if (++calls > 1) return
        await new Promise((r) => ctx.signal.addEventListener('abort', r, { once: true }))
        throw stopped
      },
    })
    const ex = createExecutor(p, { timeoutMs: 20, retry: { ...fast, maxAttempts: 1 } })
    const out = await ex.execute(batch(1), new AbortController().signal)
    expect(out.failures[0]!.error).toMatchObject({
      code: 'BATCHSQL_BATCH_FAILED',
      reason: 'timeout',
    })
    expect((out.failures[0]!.error as Error).cause).toBeInstanceOf(TimeoutError)
    expect(((out.failures[0]!.error as Error).cause as Error).cause).toBe(stopped)
  })

  it('rows a timed-out attempt reports aborted (unsent by a bisection) are retried as a timeout', async () => {
    const bad = Object.assign(new Error('bad row'), { code: 'DATA' })
    const p = new MockProcessor({
      onBatch: async (_b, ctx) => {
        if (ctx.attempt > 1) return
        // Bisecting: row 0 found bad, then the timeout stops it before rows 2 and 3 were sent.
        await new Promise((r) => ctx.signal.addEventListener('abort', r, { once: true }))
        const unsent = new AbortedError('batch aborted before commit', ctx.signal.reason)
        return {
          failures: [
            { index: 0, error: bad },
            { index: 2, error: unsent },
            { index: 3, error: unsent },
          ],
        }
      },
    })
    const ex = createExecutor(p, { timeoutMs: 20, retry: { ...fast, maxAttempts: 3 } })
    const out = await ex.execute(batch(4), new AbortController().signal)
    // Once final `context_canceled`: rows 2 and 3 lost although nothing was wrong with them.
    expect(out.committed).toBe(3)
    expect(out.failures).toHaveLength(1)
    expect(out.failures[0]!.rows.map((r) => r.get('id'))).toEqual([0])
    expect(p.attempts[1]!.rows).toEqual([{ id: 2 }, { id: 3 }])
  })

  it('a batch whose attempt was in doubt and whose retries all fail is reported BATCHSQL_OUTCOME_UNKNOWN', async () => {
    let calls = 0
    const p = new MockProcessor({
      onBatch: () => {
        // The first attempt's commit reply was lost; the server is unreachable after it.
        throw ++calls === 1 ? markInDoubt(connection()) : connection()
      },
    })
    const ex = createExecutor(p, { retry: { ...fast, maxAttempts: 3 } })
    const out = await ex.execute(batch(2), new AbortController().signal)
    expect(calls).toBe(3)
    expect(out.failures).toHaveLength(1)
    expect(out.failures[0]).toMatchObject({ reason: 'connection', attempts: 3 })
    expect(out.failures[0]!.error).toMatchObject({ code: 'BATCHSQL_OUTCOME_UNKNOWN' })
    // Without the doubt, the same failures are failed for certain.
    let plainCalls = 0
    const q = new MockProcessor({
      onBatch: () => {
        plainCalls++
        throw connection()
      },
    })
    const plain = await createExecutor(q, { retry: { ...fast, maxAttempts: 3 } }).execute(
      batch(2),
      new AbortController().signal,
    )
    expect(plainCalls).toBe(3)
    expect(plain.failures[0]!.error).toMatchObject({ code: 'BATCHSQL_BATCH_FAILED' })
  })

  it("a row whose own failure was in doubt is reported unknown; the batch's other failed row is not", async () => {
    const p = new MockProcessor({
      onBatch: (b) => ({
        failures: b.rows.flatMap((r, index) => {
          const id = r.get('id')
          if (id === 1) return [{ index, error: markInDoubt(connection()) }]
          if (id === 2) return [{ index, error: connection() }]
          return []
        }),
      }),
    })
    const ex = createExecutor(p, { retry: { ...fast, maxAttempts: 2 } })
    const out = await ex.execute(batch(3), new AbortController().signal)
    expect(out.committed).toBe(1)
    const byId = Object.fromEntries(
      out.failures.flatMap((f) =>
        f.rows.map((r) => [r.get('id'), (f.error as BatchFailedError).code]),
      ),
    )
    expect(byId).toEqual({ 1: 'BATCHSQL_OUTCOME_UNKNOWN', 2: 'BATCHSQL_BATCH_FAILED' })
  })
})

describe('error events of rows that fail on their own', () => {
  it('are counted once per attempt and reason, while each row is reported with its own error', async () => {
    const errors: string[] = []
    const metrics = new (class extends NoopMetricsReporter {
      override recordError(_database: string, _table: string, errorType: string): void {
        errors.push(errorType)
      }
    })()
    const codeOf = (id: number) => (id % 2 === 0 ? 'DATA' : id % 5 === 0 ? 'DUP' : 'DEADLOCK')
    const p = new MockProcessor({
      // Every even row is bad data; rows 5, 15 … duplicates; the other odd rows meet a
      // deadlock once, then pass.
      onBatch: (b, ctx) => ({
        failures: b.rows.flatMap((r, index) => {
          const id = r.get('id') as number
          const code = codeOf(id)
          if (code === 'DEADLOCK' && ctx.attempt > 1) return []
          return [{ index, error: Object.assign(new Error(`row failed`), { code, id }) }]
        }),
      }),
    })
    const own = [
      ...classifiers,
      (e: unknown) => {
        const code = (e as { code?: string }).code
        if (code === 'DATA') return { reason: 'data' as const, retryable: false }
        if (code === 'DUP') return { reason: 'duplicate_key' as const, retryable: false }
        return undefined
      },
    ]
    const ex = createExecutor(p, { classifiers: own, retry: fast, metrics })
    const out = await ex.execute(batch(200), new AbortController().signal)
    expect(out.committed).toBe(80)
    // 100 bad rows and 20 duplicates, in one attempt: one event per reason, not 120.
    expect(errors.sort()).toEqual(['final:data', 'final:duplicate_key', 'retry:deadlock'])
    expect(out.failures).toHaveLength(120)
    for (const f of out.failures) {
      expect(f.rows).toHaveLength(1)
      const id = f.rows[0]!.get('id') as number
      expect((f.error as Error).cause).toMatchObject({ id, code: codeOf(id) })
    }
  })
})

describe('concurrency with attempts given up on', () => {
  it('an attempt given up on keeps its slot until the sink stops: the next batch waits for it', async () => {
    let releaseFirst!: () => void
    const stuck = new Promise<void>((r) => {
      releaseFirst = r
    })
    let calls = 0
    const p = new MockProcessor({
      // The first attempt ignores its abort (a query waiting for a pool's only connection).
      onBatch: async () => {
        if (++calls === 1) await stuck
      },
    })
    const ex = createExecutor(p, { concurrency: 1, timeoutMs: 10, retry: fast })
    const first = await ex.execute(batch(1), new AbortController().signal)
    expect(first.failures[0]!.error).toMatchObject({ code: 'BATCHSQL_OUTCOME_UNKNOWN' })
    const second = ex.execute(batch(1), new AbortController().signal)
    await new Promise((r) => setTimeout(r, 30))
    expect(calls).toBe(1) // still waiting for the slot the stuck attempt holds
    releaseFirst()
    expect(await second).toMatchObject({ committed: 1, failures: [] })
    expect(calls).toBe(2)
    expect(ex.maxConcurrencyObserved).toBe(1)
  })
})

describe('createProcessorBatchSQL', () => {
  it('gives the executor its options and the pipeline the rest, metrics to both', async () => {
    const p = new MockProcessor({ delayMs: 5 })
    let batchRows = 0
    let flushRows = 0
    const metrics = new (class extends NoopMetricsReporter {
      override recordBatch(m: BatchMetrics) {
        batchRows += m.rows // the executor's
      }
      override recordFlush(rows: number) {
        flushRows += rows // the pipeline's
      }
    })()
    const bsql = createProcessorBatchSQL(p, { concurrency: 1, flushSize: 2, metrics })
    for (let i = 0; i < 8; i++) await bsql.submit(s, { id: i })
    await bsql.close()
    expect(p.rows('items')).toHaveLength(8)
    expect(p.maxRunning).toBe(1) // concurrency reached the executor
    expect(p.attempts.every((a) => a.rows.length <= 2)).toBe(true) // flushSize reached the pipeline
    expect([batchRows, flushRows]).toEqual([8, 8]) // metrics reached both
  })

  it('refuses a misspelt executor or pipeline option', () => {
    const p = new MockProcessor()
    const bad = [
      { retry: { maxAttemps: 5 } },
      { flushSise: 10 },
      { concurency: 2 },
      { concurrency: 0 },
      { executor: createExecutor(p) },
    ]
    for (const config of bad)
      expect(() => createProcessorBatchSQL(p, config as never), JSON.stringify(config)).toThrow(
        expect.objectContaining({ code: 'BATCHSQL_INVALID_CONFIG' }),
      )
    // The message names what is accepted, executor options included.
    expect(() => createProcessorBatchSQL(p, { concurency: 2 } as never)).toThrow(
      /unknown option "concurency" \(pipeline: .*flushSize.*; executor: concurrency, timeoutMs/,
    )
  })

  it('refuses a processor name that is not a non-empty string (the database label)', () => {
    for (const name of [42, '', { a: 1 }])
      expect(() => createExecutor(new MockProcessor({}, name as never))).toThrow(
        expect.objectContaining({
          code: 'BATCHSQL_INVALID_CONFIG',
          message: expect.stringMatching(/name must be/),
        }),
      )
  })

  it('createExecutor refuses a misspelt option too', () => {
    expect(() => createExecutor(new MockProcessor(), { concurency: 2 } as never)).toThrow(
      expect.objectContaining({
        code: 'BATCHSQL_INVALID_CONFIG',
        message: expect.stringContaining('"concurency"'),
      }),
    )
  })
})
