import { execFileSync } from 'node:child_process'
import { getEventListeners } from 'node:events'
import { join } from 'node:path'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { describe, expect, it, vi } from 'vitest'
import {
  AbortedError,
  BatchFailedError,
  type BatchFailure,
  BatchSQL,
  ClosedError,
  createBatchSQL,
  createExecutor,
  defineSchema,
  NoopMetricsReporter,
  type PipelineGauges,
  Request,
  ValidationError,
} from '../src/index.js'
import { MockExecutor, MockProcessor } from '../src/testing.js'
import { closeReleasing, gatedExecutor, oneFlushAtATime, tick, withFakeClock } from './helpers.js'

const events = defineSchema({ table: 'events', columns: { id: 'int', payload: 'string' } })

/** Records the batch outcomes and errors a pipeline and its executor report. */
class OutcomeRecorder extends NoopMetricsReporter {
  failedRows = 0
  readonly errors: string[] = []
  override recordBatch(m: { rows: number; committed: number }): void {
    this.failedRows += m.rows - m.committed
  }
  override recordError(_database: string, _table: string, errorType: string): void {
    this.errors.push(errorType)
  }
}
const users = defineSchema({
  table: 'users',
  columns: { id: 'int', name: 'string' },
  strategy: 'update',
  conflictColumns: ['id'],
})

describe('flushing', () => {
  it('gives a chunk begun after a size flush its own full interval', async () => {
    // Fake clock (timers and performance.now): the assertions are about order, not speed.
    await withFakeClock(async () => {
      const executor = new MockExecutor()
      const b = createBatchSQL({ executor, flushSize: 10, bufferSize: 100, flushInterval: 100 })
      await b.submit(events, { id: 0 }) // t=0: the chunk's timer starts
      await vi.advanceTimersByTimeAsync(60)
      for (let i = 1; i < 10; i++) await b.submit(events, { id: i }) // t=60: full, flushed
      await vi.advanceTimersByTimeAsync(22)
      await b.submit(events, { id: 10 }) // t=82: a new chunk
      await vi.advanceTimersByTimeAsync(68) // t=150: the first chunk's timer has fired
      expect(executor.batches.map((x) => x.rows.length)).toEqual([10])
      await vi.advanceTimersByTimeAsync(40) // t=190: 108 ms after row 10
      expect(executor.batches.map((x) => x.rows.length)).toEqual([10, 1])
      await b.close()
    })
  })

  it('flushes by size', async () => {
    const { processor, executor } = gatedExecutor()
    const b = createBatchSQL({ executor, flushSize: 3, bufferSize: 10, flushInterval: 60_000 })
    for (let i = 0; i < 3; i++) await b.submit(events, { id: i })
    await processor.waitFor(1)
    expect(processor.received[0]!.rows.map((r) => r.get('id'))).toEqual([0, 1, 2])
    processor.releaseAll()
    await b.close()
  })

  it('flushes by interval when fewer than flushSize rows are pending', async () => {
    const executor = new MockExecutor()
    const b = createBatchSQL({ executor, flushSize: 100, flushInterval: 5 })
    await b.submit(events, { id: 1 })
    while (executor.batches.length === 0) await new Promise((r) => setTimeout(r, 5))
    expect(executor.rows('events')).toEqual([{ id: 1 }])
    expect(b.stats().state).toBe('open')
    await b.close()
  })

  it('chunks sealed by the interval while the flush slot was busy are merged into one flush, every row once', async () => {
    await withFakeClock(async () => {
      for (const sealed of [2, 3, 5]) {
        const { processor, executor } = gatedExecutor({ concurrency: 1 })
        const b = createBatchSQL({
          executor,
          flushSize: 10,
          bufferSize: 100,
          flushInterval: 100,
          maxInFlightFlushes: 1,
        })
        await b.submit(events, { id: 0 })
        await vi.advanceTimersByTimeAsync(100) // sealed and flushed: holds the only slot
        await processor.waitFor(1)
        // One row per interval: each is sealed as its own chunk and waits for the slot.
        for (let id = 1; id <= sealed; id++) {
          await b.submit(events, { id })
          await vi.advanceTimersByTimeAsync(100)
        }
        expect(processor.received).toHaveLength(1)
        processor.releaseAll()
        await processor.waitFor(2)
        const ids = processor.received.map((batch) => batch.rows.map((r) => r.get('id')))
        expect(ids).toEqual([[0], Array.from({ length: sealed }, (_, i) => i + 1)])
        const closing = b.close()
        processor.releaseAll()
        expect(await closing).toMatchObject({ accepted: sealed + 1, committed: sealed + 1 })
      }
    })
  })

  it('flushes on close and waits for in-flight batches', async () => {
    const { processor, executor } = gatedExecutor()
    const b = createBatchSQL({ executor, flushSize: 100, flushInterval: 60_000 })
    await b.submit(events, { id: 1 })
    await b.submit(events, { id: 2 })
    let closed = false
    const closing = b.close().then((r) => {
      closed = true
      return r
    })
    await processor.waitFor(1)
    await tick()
    expect(closed).toBe(false) // still writing
    processor.releaseAll()
    const result = await closing
    expect(result).toMatchObject({ accepted: 2, committed: 2, failed: 0, abandonedRows: 0 })
    expect(await b.done).toBe(result)
  })

  it('keeps submit order within a schema and splits a flush per schema', async () => {
    const executor = new MockExecutor()
    const b = createBatchSQL({ executor, flushSize: 6, flushInterval: 60_000 })
    for (let i = 0; i < 6; i++) await b.submit(i % 2 ? users : events, { id: i })
    await b.close()
    expect(executor.batches).toHaveLength(2)
    expect(executor.rows('events').map((r) => r.id)).toEqual([0, 2, 4])
    expect(executor.rows('users').map((r) => r.id)).toEqual([1, 3, 5])
  })
})

describe('delivery', () => {
  it('10 concurrent producers x 10,000 rows: each row delivered exactly once', async () => {
    const executor = new MockExecutor()
    const b = createBatchSQL({ executor, flushSize: 500, bufferSize: 2_000, flushInterval: 10 })
    await Promise.all(
      Array.from({ length: 10 }, async (_, p) => {
        for (let i = 0; i < 10_000; i++) await b.submit(events, { id: p * 10_000 + i })
      }),
    )
    const result = await b.close()
    const ids = executor.rows('events').map((r) => r.id as number)
    expect(ids).toHaveLength(100_000)
    expect(new Set(ids).size).toBe(100_000)
    expect(result.committed).toBe(100_000)
  })

  it('a row object mutated after submit changes nothing', async () => {
    const executor = new MockExecutor()
    const b = createBatchSQL({ executor })
    const row = { id: 1, payload: 'before' }
    await b.submit(events, row)
    row.payload = 'after'
    const req = new Request(events).setInt('id', 2).setString('payload', 'x')
    await b.submit(req)
    req.setString('payload', 'changed')
    await b.close()
    expect(executor.rows('events')).toEqual([
      { id: 1, payload: 'before' },
      { id: 2, payload: 'x' },
    ])
  })

  it('rejects bad input at submit, before anything is enqueued', async () => {
    const executor = new MockExecutor()
    const b = createBatchSQL({ executor })
    await expect(b.submit(events, {})).rejects.toThrow(ValidationError)
    await expect(b.submit(events, { nope: 1 } as never)).rejects.toMatchObject({
      code: 'BATCHSQL_UNKNOWN_COLUMN',
    })
    await expect(b.submit(undefined as never, { id: 1 })).rejects.toMatchObject({
      code: 'BATCHSQL_MISSING_SCHEMA',
    })
    await expect(b.submit(events, { id: Symbol('x') } as never)).rejects.toMatchObject({
      code: 'BATCHSQL_UNSUPPORTED_VALUE',
    })
    await expect(b.submit(events, { payload: new WeakMap() } as never)).rejects.toMatchObject({
      code: 'BATCHSQL_UNSUPPORTED_VALUE',
    })
    await expect(b.submit(events, { payload: 5 } as never)).rejects.toMatchObject({
      code: 'BATCHSQL_TYPE_MISMATCH',
    })
    await b.submit(events, { id: 1 })
    expect(b.stats().accepted).toBe(1)
    await b.close()
    expect(executor.rows()).toEqual([{ id: 1 }])
  })
})

describe('backpressure', () => {
  it('keeps pending rows <= bufferSize while producers wait', async () => {
    const { processor, b } = oneFlushAtATime(10, 20)
    const producers = Array.from({ length: 5 }, async (_, p) => {
      for (let i = 0; i < 20; i++) await b.submit(events, { id: p * 100 + i })
    })
    let maxPending = 0
    let sawWaiters = false
    const all = Promise.all(producers)
    let done = false
    void all.then(() => {
      done = true
    })
    while (!done) {
      await processor.waitFor(processor.received.length + 0)
      await tick()
      const st = b.stats()
      maxPending = Math.max(maxPending, st.pending)
      if (st.waitingSubmits > 0) sawWaiters = true
      expect(st.inFlightFlushes).toBeLessThanOrEqual(1)
      processor.releaseAll()
    }
    await closeReleasing(b, processor)
    expect(maxPending).toBeLessThanOrEqual(20)
    expect(sawWaiters).toBe(true)
    expect(processor.received.flatMap((x) => x.rows)).toHaveLength(100)
  })

  it('submitAndWait().accepted resolves on enqueue, the promise itself on commit', async () => {
    const { processor, b } = oneFlushAtATime(2, 2)
    const first = b.submitAndWait(events, { id: 1 })
    let committed = false
    void first.then(() => {
      committed = true
    })
    await first.accepted
    b.submitAndWait(events, { id: 2 }).catch(() => {})
    await processor.waitFor(1)
    // Buffer full again (2 rows) while the first flush is held: the next submit waits for room.
    await b.submit(events, { id: 3 })
    await b.submit(events, { id: 4 })
    const waiting = b.submitAndWait(events, { id: 5 })
    let accepted = false
    void waiting.accepted.then(() => {
      accepted = true
    })
    await tick()
    expect(committed).toBe(false)
    expect(accepted).toBe(false)
    expect(b.stats().waitingSubmits).toBe(1)
    processor.releaseAll()
    await first
    expect(committed).toBe(true)
    await closeReleasing(b, processor)
    await waiting
    expect(accepted).toBe(true)
  })

  it('abort while waiting rejects with AbortedError and the row is not written', async () => {
    const { processor, b } = oneFlushAtATime(1, 1)
    await b.submit(events, { id: 1 }) // flushed, in flight
    await b.submit(events, { id: 2 }) // pending: buffer full
    const ctl = new AbortController()
    const waiting = b.submit(events, { id: 3 }, { signal: ctl.signal })
    ctl.abort()
    await expect(waiting).rejects.toBeInstanceOf(AbortedError)
    await closeReleasing(b, processor)
    expect(processor.received.flatMap((x) => x.rows.map((r) => r.get('id')))).toEqual([1, 2])
  })

  it('close while producers wait rejects the waiting submits with ClosedError and writes the accepted ones', async () => {
    const { processor, b } = oneFlushAtATime(1, 1)
    await b.submit(events, { id: 1 })
    await b.submit(events, { id: 2 })
    const waiting = [b.submit(events, { id: 3 }), b.submit(events, { id: 4 })]
    const closing = closeReleasing(b, processor)
    for (const w of waiting) await expect(w).rejects.toBeInstanceOf(ClosedError)
    const r = await closing
    expect(r.committed).toBe(2)
    await expect(b.submit(events, { id: 5 })).rejects.toBeInstanceOf(ClosedError)
  })

  it('a wait cut short by an abort or by close() is timed as an enqueue wait, like one that got room', async () => {
    const waits: number[] = []
    const { processor, b } = oneFlushAtATime(1, 1)
    b.withMetricsReporter(
      new (class extends NoopMetricsReporter {
        override recordEnqueueLatency(seconds: number) {
          waits.push(seconds)
        }
      })(),
    )
    await b.submit(events, { id: 1 })
    await b.submit(events, { id: 2 })
    expect(waits).toEqual([])
    const ctl = new AbortController()
    const aborted = b.submit(events, { id: 3 }, { signal: ctl.signal })
    const closed = b.submit(events, { id: 4 })
    ctl.abort()
    await expect(aborted).rejects.toBeInstanceOf(AbortedError)
    expect(waits).toHaveLength(1)
    const refused = expect(closed).rejects.toBeInstanceOf(ClosedError)
    await closeReleasing(b, processor)
    await refused
    expect(waits).toHaveLength(2)
    for (const s of waits) expect(s).toBeGreaterThanOrEqual(0)
  })
})

describe('submitMany', () => {
  it('writes every row once, in order, across flushes', async () => {
    const ex = new MockExecutor()
    const b = createBatchSQL({ executor: ex, flushSize: 7, bufferSize: 50 })
    await b.submitMany(
      events,
      Array.from({ length: 100 }, (_, i) => ({ id: i })),
    )
    await b.submitMany(events, [])
    await b.close()
    expect(ex.rows().map((r) => r.id)).toEqual(Array.from({ length: 100 }, (_, i) => i))
  })

  it('a bad row rejects the whole call with its index and nothing is enqueued', async () => {
    const ex = new MockExecutor()
    const b = createBatchSQL({ executor: ex })
    const bad = b.submitMany(events, [{ id: 1 }, { id: 2 }, { id: 'x' } as never, { id: 4 }])
    await expect(bad).rejects.toBeInstanceOf(ValidationError)
    await expect(bad).rejects.toMatchObject({
      code: 'BATCHSQL_TYPE_MISMATCH',
      row: 2,
      column: 'id',
      message: expect.stringMatching(/^row 2: /),
    })
    // @ts-expect-error: rows are typed by the schema, an unknown column is a compile error
    await expect(b.submitMany(events, [{ id: 1 }, { nope: 1 }])).rejects.toMatchObject({
      code: 'BATCHSQL_UNKNOWN_COLUMN',
      row: 1,
    })
    await expect(b.submitMany(events, [{}])).rejects.toMatchObject({
      code: 'BATCHSQL_EMPTY_ROW',
      row: 0,
    })
    await expect(b.submitMany(events, 5 as never)).rejects.toMatchObject({
      code: 'BATCHSQL_INVALID_ROW',
    })
    await expect(b.submit(events, null as never)).rejects.toMatchObject({
      code: 'BATCHSQL_INVALID_ROW',
    })
    expect(b.stats().accepted).toBe(0)
    await b.close()
    expect(ex.rows()).toHaveLength(0)
  })

  it('takes more rows than bufferSize, waiting for room, and keeps pending <= bufferSize', async () => {
    const { processor, b } = oneFlushAtATime(10, 20)
    let accepted = false
    const many = b.submitMany(
      events,
      Array.from({ length: 95 }, (_, i) => ({ id: i })),
    )
    void many.then(() => {
      accepted = true
    })
    // A single submit that arrives while submitMany waits queues behind it (FIFO).
    const single = b.submit(events, { id: 1000 })
    expect(b.stats().waitingSubmits).toBe(2)
    let maxPending = 0
    while (!accepted) {
      await tick()
      maxPending = Math.max(maxPending, b.stats().pending)
      processor.releaseAll()
    }
    await single
    await closeReleasing(b, processor)
    expect(maxPending).toBeLessThanOrEqual(20)
    const ids = processor.received.flatMap((x) => x.rows.map((r) => r.get('id')))
    expect(ids).toEqual([...Array.from({ length: 95 }, (_, i) => i), 1000])
  })

  it('abort while waiting says how many leading rows were accepted; exactly those are written', async () => {
    const { processor, b } = oneFlushAtATime(2, 4)
    const ctl = new AbortController()
    const many = b.submitMany(
      events,
      Array.from({ length: 10 }, (_, i) => ({ id: i })),
      { signal: ctl.signal },
    )
    await processor.waitFor(1)
    ctl.abort()
    const err = await many.then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(err).toBeInstanceOf(AbortedError)
    const n = (err as AbortedError).acceptedRows
    expect(n).toBeGreaterThan(0)
    expect(n).toBeLessThan(10)
    await closeReleasing(b, processor)
    const ids = processor.received.flatMap((x) => x.rows.map((r) => r.get('id')))
    expect(ids).toEqual(Array.from({ length: n }, (_, i) => i))
  })

  it('close while it waits rejects with ClosedError and acceptedRows; after close it is rejected', async () => {
    const { processor, b } = oneFlushAtATime(2, 2)
    const many = b.submitMany(
      events,
      Array.from({ length: 10 }, (_, i) => ({ id: i })),
    )
    await processor.waitFor(1)
    const closing = closeReleasing(b, processor)
    const err = (await many.catch((e: unknown) => e)) as ClosedError
    expect(err).toBeInstanceOf(ClosedError)
    expect(err.message).toMatch(/of 10 row\(s\) were not accepted/)
    const r = await closing
    expect(r.committed).toBe(err.acceptedRows)
    expect(err.acceptedRows).toBe(4)
    await expect(b.submitMany(events, [{ id: 1 }])).rejects.toBeInstanceOf(ClosedError)
  })
})

describe('rows buffered without a Request each (submit and submitMany of plain rows)', () => {
  it('a run of submit() rows of one schema reaches the processor as one flat batch', async () => {
    const { processor, executor } = gatedExecutor()
    const b = createBatchSQL({ executor, flushSize: 3, bufferSize: 10, flushInterval: 60_000 })
    await b.submit(events, { id: 1, payload: 'a' })
    await b.submit(events, { payload: 'b', id: 2 }) // keys in another order
    await b.submit(events, { id: 3, payload: undefined })
    await processor.waitFor(1)
    const batch = processor.received[0]!
    expect(batch.values).toEqual([1, 'a', 2, 'b', 3, undefined])
    expect(batch.rows.map((r) => r.toObject())).toEqual([
      { id: 1, payload: 'a' },
      { id: 2, payload: 'b' },
      { id: 3 },
    ])
    processor.releaseAll()
    await b.close()
  })

  it('a row rejected half-way through leaves the rows before it as they were', async () => {
    const ex = new MockExecutor()
    const b = createBatchSQL({ executor: ex, flushInterval: 60_000 })
    await b.submit(events, { id: 1, payload: 'a' })
    // payload is read (and stored) before id fails.
    await expect(b.submit(events, { payload: 'b', id: 'x' } as never)).rejects.toMatchObject({
      code: 'BATCHSQL_TYPE_MISMATCH',
    })
    await expect(b.submit(events, { payload: 'c', nope: 1 } as never)).rejects.toMatchObject({
      code: 'BATCHSQL_UNKNOWN_COLUMN',
    })
    await b.submit(events, { id: 3 })
    await b.close()
    expect(ex.rows()).toEqual([{ id: 1, payload: 'a' }, { id: 3 }])
    expect(b.stats().accepted).toBe(2)
  })

  it("the schema's validate hook sees each row's values, for submit and submitMany", async () => {
    const checked = defineSchema({
      table: 'checked',
      columns: { id: 'int', n: 'int' },
      validate: (v) => {
        if ((v[1] as number) < 0)
          throw new ValidationError('BATCHSQL_TYPE_MISMATCH', 'n must not be negative')
      },
    })
    const ex = new MockExecutor()
    const b = createBatchSQL({ executor: ex, flushInterval: 60_000 })
    await b.submit(checked, { id: 1, n: 1 })
    await expect(b.submit(checked, { id: 2, n: -1 })).rejects.toThrow('n must not be negative')
    await expect(
      b.submitMany(checked, [
        { id: 3, n: 3 },
        { id: 4, n: -4 },
      ]),
    ).rejects.toMatchObject({ row: 1, message: 'row 1: n must not be negative' })
    await b.submitMany(checked, [{ id: 5, n: 5 }])
    await b.close()
    expect(ex.rows()).toEqual([
      { id: 1, n: 1 },
      { id: 5, n: 5 },
    ])
  })

  it('submit, submitAndWait, submitMany and another schema in one flush: order kept per schema', async () => {
    const ex = new MockExecutor()
    const b = createBatchSQL({ executor: ex, flushSize: 100, flushInterval: 60_000 })
    await b.submit(events, { id: 0 })
    const acked = b.submitAndWait(events, { id: 1 })
    await b.submitMany(events, [{ id: 2 }, { id: 3 }])
    await b.submit(users, { id: 9, name: 'u' })
    await b.submit(events, { id: 4 })
    await b.close()
    await expect(acked).resolves.toBeUndefined()
    expect(ex.rows('events').map((r) => r.id)).toEqual([0, 1, 2, 3, 4])
    expect(ex.rows('users')).toEqual([{ id: 9, name: 'u' }])
  })

  it('slabs cut by flushSize and joined from several calls keep every row once, in order', async () => {
    const { processor, executor } = gatedExecutor()
    const b = createBatchSQL({ executor, flushSize: 5, bufferSize: 50, flushInterval: 60_000 })
    await b.submitMany(events, [{ id: 0 }, { id: 1 }, { id: 2 }])
    await b.submit(events, { id: 3 })
    await b.submitMany(events, [{ id: 4 }, { id: 5 }, { id: 6 }, { id: 7 }])
    await processor.waitFor(1)
    const first = processor.received[0]!
    expect(first.values).toEqual([
      0,
      undefined,
      1,
      undefined,
      2,
      undefined,
      3,
      undefined,
      4,
      undefined,
    ])
    await closeReleasing(b, processor)
    const ids = processor.received.flatMap((x) => x.rows.map((r) => r.get('id')))
    expect(ids).toEqual([0, 1, 2, 3, 4, 5, 6, 7])
    expect(processor.received.map((x) => x.values !== undefined)).toEqual([true, true])
  })

  it('rows that waited for room stay flat: the flushes after a wait are not built as Requests', async () => {
    const { processor, b } = oneFlushAtATime(4, 4)
    for (let i = 0; i < 4; i++) await b.submit(events, { id: i }) // flush 1, in flight
    for (let i = 4; i < 8; i++) await b.submit(events, { id: i }) // flush 2 waits: buffer full
    // Two producers wait; each row waits as a one-row slab, and joins the run before it.
    const waiting = [b.submit(events, { id: 8 }), b.submit(events, { id: 9 })]
    expect(b.stats().waitingSubmits).toBe(2)
    processor.releaseAll()
    await Promise.all(waiting)
    for (let i = 10; i < 12; i++) await b.submit(events, { id: i })
    await closeReleasing(b, processor)
    expect(processor.received.map((x) => x.values !== undefined)).toEqual([true, true, true])
    expect(processor.received[2]!.values).toEqual([
      8,
      undefined,
      9,
      undefined,
      10,
      undefined,
      11,
      undefined,
    ])
    expect(processor.received.map((x) => x.rows.map((r) => r.get('id')))).toEqual([
      [0, 1, 2, 3],
      [4, 5, 6, 7],
      [8, 9, 10, 11],
    ])
  })

  it('a failed flat batch reports its rows with their values', async () => {
    const ex = new MockExecutor({
      onBatch: () => {
        throw new Error('boom')
      },
    })
    const failures: BatchFailure[] = []
    const b = createBatchSQL({
      executor: ex,
      flushInterval: 60_000,
      onError: (f) => failures.push(f),
    })
    await b.submitMany(events, [{ id: 1, payload: 'x' }, { id: 2 }])
    await b.close()
    expect(failures.flatMap((f) => f.rows.map((r) => r.toObject()))).toEqual([
      { id: 1, payload: 'x' },
      { id: 2 },
    ])
    expect(b.stats()).toMatchObject({ accepted: 2, committed: 0, failed: 2 })
  })
})

describe('failures', () => {
  it('a failure kept by the caller does not keep its batch alive', async () => {
    // V8 keeps an unread stack's frames (functions and receivers): the executor's closures
    // over the batch, so one row's error held all 500 rows until someone read `.stack`.
    setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as () => void
    let batchRef: WeakRef<object> | undefined
    const bad = new Error('row 3 refused')
    const executor = new MockExecutor(
      {
        onBatch: (batch) => {
          batchRef = new WeakRef(batch)
          return { failures: [{ index: 3, error: bad }] }
        },
      },
      { retry: { maxAttempts: 1 } },
    )
    const kept: BatchFailure[] = []
    const b = createBatchSQL({ executor, flushSize: 500, onError: (f) => kept.push(f) })
    await b.submitMany(
      events,
      Array.from({ length: 500 }, (_, id) => ({ id, payload: 'x'.repeat(100) })),
    )
    await b.close()
    expect(kept.map((f) => f.rows.length)).toEqual([1])
    executor.processor.attempts.length = 0
    executor.processor.batches.length = 0
    for (let i = 0; i < 3 && batchRef!.deref() !== undefined; i++) {
      await new Promise((r) => setImmediate(r))
      gc()
    }
    expect(batchRef!.deref()).toBeUndefined()
    expect(kept[0]!.error.cause).toBe(bad)
  })

  it('a reader that stops (break, destroy) takes no later failure with it', async () => {
    const executor = new MockExecutor(
      {
        onBatch: () => {
          throw new Error('boom')
        },
      },
      { retry: { maxAttempts: 1 } },
    )
    const b = createBatchSQL({ executor, flushSize: 1 })
    const it1 = b.errors[Symbol.asyncIterator]()
    const pending = it1.next() // waiting when the reader goes away
    await it1.return?.()
    expect(await pending).toEqual({ value: undefined, done: true })
    await b.submit(events, { id: 1 }) // fails after the reader left
    await b.close()
    const later: BatchFailure[] = []
    for await (const f of b.errors) later.push(f)
    expect(later.map((f) => f.rows.map((r) => r.get('id')))).toEqual([[1]])
  })

  it('a failed batch reaches the error stream with schema, rows, reason and attempts', async () => {
    const executor = new MockExecutor(
      {
        onBatch: () => {
          throw new Error('boom')
        },
      },
      { retry: { maxAttempts: 1 } },
    )
    const b = createBatchSQL({ executor, flushSize: 2 })
    await b.submit(events, { id: 1 })
    await b.submit(events, { id: 2 })
    const result = await b.close()
    const got: BatchFailure[] = []
    for await (const f of b.errors) got.push(f)
    expect(got).toHaveLength(1)
    expect(got[0]!.schema).toBe(events)
    expect(got[0]!.rows.map((r) => r.get('id'))).toEqual([1, 2])
    expect(got[0]).toMatchObject({ reason: 'unknown', attempts: 1 })
    expect(result.failed).toBe(2)
  })

  it('submitAndWait resolves on commit and rejects with the final error', async () => {
    const executor = new MockExecutor(
      {
        onBatch: (batch) =>
          batch.schema.table === 'users'
            ? (() => {
                throw new Error('x')
              })()
            : undefined,
      },
      { retry: { maxAttempts: 1 } },
    )
    const b = createBatchSQL({ executor, flushInterval: 1 })
    await expect(b.submitAndWait(events, { id: 1 })).resolves.toBeUndefined()
    const failed = b.submitAndWait(users, { id: 1 })
    await expect(failed).rejects.toBeInstanceOf(BatchFailedError)
    await b.close()
  })

  it('one failing table in a flush never drops or delays another', async () => {
    const executor = new MockExecutor(
      {
        onBatch: (batch) => {
          if (batch.schema.table === 'users') throw new Error('users down')
        },
      },
      { retry: { maxAttempts: 1 } },
    )
    const onError: BatchFailure[] = []
    const b = createBatchSQL({ executor, flushSize: 4, onError: (f) => onError.push(f) })
    for (let i = 0; i < 4; i++) await b.submit(i % 2 ? users : events, { id: i })
    await b.close()
    expect(executor.rows('events').map((r) => r.id)).toEqual([0, 2])
    expect(onError).toHaveLength(1)
    expect(onError[0]!.schema.table).toBe('users')
  })

  it('error stream overflow is counted, never silent', async () => {
    const executor = new MockExecutor(
      {
        onBatch: () => {
          throw new Error('x')
        },
      },
      { retry: { maxAttempts: 1 } },
    )
    const dropped: number[] = []
    class Counting extends NoopMetricsReporter {
      override recordDroppedErrors(n: number) {
        dropped.push(n)
      }
    }
    const b = createBatchSQL({ executor, flushSize: 1, errorBufferSize: 2 }).withMetricsReporter(
      new Counting(),
    )
    for (let i = 0; i < 5; i++) await b.submit(events, { id: i })
    await b.close()
    expect(b.stats().droppedErrors).toBe(3)
    expect(dropped.reduce((a, n) => a + n, 0)).toBe(3)
    let buffered = 0
    for await (const _ of b.errors) buffered++
    expect(buffered).toBe(2)
  })

  it("one batch's row failures are taken whole while the buffer has room, more than its capacity", async () => {
    // Ten rows refused on their own arrive as ten failures at once: a reader taking one per
    // tick could never keep a batch of more failing rows than errorBufferSize from being cut.
    const refused = new Error('refused')
    const executor = new MockExecutor(
      {
        onBatch: (batch) => ({
          failures: batch.rows.map((_, index) => ({ index, error: refused })),
        }),
      },
      { retry: { maxAttempts: 1 } },
    )
    const b = createBatchSQL({ executor, flushSize: 10, errorBufferSize: 2 })
    const read: number[] = []
    const reader = (async () => {
      for await (const f of b.errors) read.push(...f.rows.map((r) => r.get('id') as number))
    })()
    await b.submitMany(
      events,
      Array.from({ length: 10 }, (_, id) => ({ id })),
    )
    // Nobody reads now: the buffer (past its capacity) takes no further batch.
    const idle = createBatchSQL({ executor, flushSize: 10, errorBufferSize: 2 })
    await idle.submitMany(
      events,
      Array.from({ length: 10 }, (_, id) => ({ id })),
    )
    await idle.submitMany(
      events,
      Array.from({ length: 10 }, (_, id) => ({ id: id + 10 })),
    )
    await idle.close()
    await b.close()
    await reader
    expect(read.sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    expect(b.stats().droppedErrors).toBe(0)
    expect(idle.stats().droppedErrors).toBe(10)
    let kept = 0
    for await (const _ of idle.errors) kept++
    expect(kept).toBe(10)
  })

  it('a reader that keeps up loses nothing when several batches fail at once', async () => {
    // A dropped connection fails every batch in flight together: they all settle before the
    // reader gets a turn. Only a buffer nobody reads is held to errorBufferSize.
    let open!: () => void
    const gate = new Promise<void>((r) => {
      open = r
    })
    const refused = new Error('connection reset')
    const executor = new MockExecutor(
      {
        onBatch: async (batch) => {
          await gate
          return { failures: batch.rows.map((_, index) => ({ index, error: refused })) }
        },
      },
      { concurrency: 4, retry: { maxAttempts: 1 } },
    )
    const b = createBatchSQL({ executor, flushSize: 10, bufferSize: 40, errorBufferSize: 2 })
    let read = 0
    const reader = (async () => {
      for await (const f of b.errors) read += f.rows.length
    })()
    await b.submitMany(
      events,
      Array.from({ length: 40 }, (_, id) => ({ id })),
    )
    while (executor.processor.running < 4) await tick()
    open()
    await b.close()
    await reader
    expect(b.stats().droppedErrors).toBe(0)
    expect(read).toBe(40)
  })

  it('a reader that falls behind holds the burst allowance in rows, not in failures', async () => {
    // A table failing whole batches reports one failure of flushSize rows per batch: the
    // allowance (what the pipeline holds anyway: bufferSize + maxInFlightFlushes x flushSize
    // rows, here 20 + 2 x 10) once counted failures, so a slow reader let 42 such failures,
    // 420 rows, pile up instead of about 60.
    const executor = new MockExecutor(
      {
        onBatch: () => {
          throw new Error('relation does not exist')
        },
      },
      { retry: { maxAttempts: 1 } },
    )
    const b = createBatchSQL({
      executor,
      flushSize: 10,
      bufferSize: 20,
      maxInFlightFlushes: 2,
      errorBufferSize: 2,
    })
    const reader = b.errors[Symbol.asyncIterator]()
    const first = reader.next() // attached: it takes one failure, then falls behind
    for (let i = 0; i < 50; i++)
      await b.submitMany(
        events,
        Array.from({ length: 10 }, (_, k) => ({ id: i * 10 + k })),
      )
    await b.close()
    expect((await first).done).toBe(false)
    let rows = 0
    for (let r = await reader.next(); !r.done; r = await reader.next()) rows += r.value.rows.length
    // errorBufferSize failures (2 x 10 rows), then failures up to 40 rows more, the last batch whole.
    expect(rows).toBeGreaterThanOrEqual(40)
    expect(rows).toBeLessThanOrEqual(2 * 10 + 40 + 10)
    expect(b.stats().droppedErrors).toBe(49 - rows / 10)
  })

  it("pipeline-level metrics carry the pipeline's database (the executor's name)", async () => {
    const calls: string[] = []
    class Recording extends NoopMetricsReporter {
      override recordEnqueueLatency(_s: number, database: string) {
        calls.push(`enqueue ${database}`)
      }
      override recordQueueWait(_s: number, database: string) {
        calls.push(`queueWait ${database}`)
      }
      override recordFlush(_rows: number, _groups: number, database: string) {
        calls.push(`flush ${database}`)
      }
      override recordAssembleDuration(_s: number, database: string) {
        calls.push(`assemble ${database}`)
      }
      override recordRejectedSubmit(reason: string, database: string) {
        calls.push(`rejected:${reason} ${database}`)
      }
      override recordDroppedErrors(_n: number, database: string) {
        calls.push(`dropped ${database}`)
      }
    }
    const failing = new MockProcessor(
      {
        delayMs: 5,
        onBatch: () => {
          throw new Error('x')
        },
      },
      'warehouse',
    )
    const b = createBatchSQL({
      executor: createExecutor(failing, { retry: { maxAttempts: 1 } }),
      flushSize: 1,
      bufferSize: 1,
      maxInFlightFlushes: 1, // the third submit waits for room
      errorBufferSize: 1, // two of the three failures are dropped
      metrics: new Recording(),
    })
    await Promise.all([1, 2, 3].map((id) => b.submit(events, { id })))
    await expect(b.submit(events, { id: 'four' as never })).rejects.toThrow(ValidationError)
    await b.close()
    await expect(b.submit(events, { id: 5 })).rejects.toThrow(ClosedError)
    expect(new Set(calls)).toEqual(
      new Set([
        'enqueue warehouse',
        'queueWait warehouse',
        'flush warehouse',
        'assemble warehouse',
        'rejected:validation warehouse',
        'rejected:closed warehouse',
        'dropped warehouse',
      ]),
    )
  })

  /** Five rows submitted: one 2-row batch running (gated), the rest waiting for its slot. */
  const FIVE_ROWS_ONE_RUNNING = {
    flushSize: 2,
    bufferSize: 10,
    maxInFlightFlushes: 1,
    flushInterval: 60_000,
  }

  it('close with a deadline reports exactly the abandoned rows', async () => {
    const { processor, executor } = gatedExecutor({ concurrency: 1, retry: { maxAttempts: 1 } })
    const metrics = new OutcomeRecorder()
    const b = createBatchSQL({ executor, ...FIVE_ROWS_ONE_RUNNING, metrics })
    for (let i = 0; i < 5; i++) await b.submit(events, { id: i })
    await processor.waitFor(1)
    const result = await b.close({ timeoutMs: 5 })
    const ids = result.abandoned.flatMap((f) => f.rows.map((r) => r.get('id'))).sort()
    expect(ids).toEqual([0, 1, 2, 3, 4])
    expect(result.abandonedRows).toBe(5)
    expect(result.abandoned.every((f) => f.error.code === 'BATCHSQL_ABANDONED')).toBe(true)
    // Each wraps what stopped it (the abort), not another BATCHSQL_ABANDONED error.
    for (const f of result.abandoned) expect(f.error.cause).toBeInstanceOf(AbortedError)
    // The metrics see them too: the aborted batch (executor) and the never-sent ones (pipeline).
    expect(metrics.failedRows).toBe(5)
    expect(metrics.errors.every((e) => e === 'final:context_canceled')).toBe(true)
    expect(metrics.errors.length).toBeGreaterThanOrEqual(2)
  })

  it.each([
    ['close({ signal })', false],
    ['close() then close({ signal })', true], // a shutdown that first drains, then is cut short
  ])(
    "%s cut short by its signal: the abandoned rows' errors carry the signal's reason",
    async (_, drainFirst) => {
      const { processor, executor } = gatedExecutor({ concurrency: 1, retry: { maxAttempts: 1 } })
      const b = createBatchSQL({ executor, ...FIVE_ROWS_ONE_RUNNING })
      for (let i = 0; i < 5; i++) await b.submit(events, { id: i })
      await processor.waitFor(1)
      const draining = drainFirst ? b.close() : undefined
      const stop = new AbortController()
      const reason = new Error('second SIGTERM')
      const closing = b.close({ signal: stop.signal })
      stop.abort(reason)
      const result = await closing
      if (draining) expect(await draining).toBe(result)
      expect(result.abandonedRows).toBe(5)
      // Both the running batch (aborted in the executor) and the never-sent ones.
      for (const f of result.abandoned) {
        expect(f.error.cause).toBeInstanceOf(AbortedError)
        expect((f.error.cause as AbortedError).message).toMatch(/^close aborted by its signal/)
        expect((f.error.cause as AbortedError).cause).toBe(reason)
      }
    },
  )

  it('a pipeline made with an aborted signal refuses rows at once, as an aborted submit signal does', async () => {
    const executor = new MockExecutor()
    const b = createBatchSQL({ executor, signal: AbortSignal.abort() })
    await expect(b.submit(events, { id: 1 })).rejects.toThrow(ClosedError)
    await b.done
    expect(executor.rows()).toEqual([])
  })
})

describe('lifecycle', () => {
  it('a close deadline is kept when the sink ignores the abort: the running batch is of unknown outcome', async () => {
    let finish!: () => void
    let started!: () => void
    const running = new Promise<void>((r) => (started = r))
    // A sink that neither settles nor listens to its signal (a statement the server keeps running).
    const executor = new MockExecutor(
      {
        onBatch: () => {
          started()
          return new Promise<undefined>((r) => (finish = () => r(undefined)))
        },
      },
      { timeoutMs: 0, retry: { maxAttempts: 1 } },
    )
    const gauges: PipelineGauges[] = []
    class Recorder extends OutcomeRecorder {
      override bindGauges(_db: string, g: PipelineGauges): void {
        gauges.push(g)
      }
      override unbindGauges(g: PipelineGauges): void {
        gauges.splice(gauges.indexOf(g), 1)
      }
    }
    const metrics = new Recorder()
    const b = createBatchSQL({ executor, flushSize: 2, flushInterval: 60_000, metrics })
    const acked = b.submitAndWait(events, { id: 1 }).catch((e: unknown) => e)
    await b.submit(events, { id: 2 })
    await running
    // Resolves while the batch still runs: the deadline is not waited past.
    const result = await b.close({ timeoutMs: 5 })
    // The in-flight gauge still counts it (it may still write), until it ends.
    expect(gauges.map((g) => g.inFlightBatches())).toEqual([1])
    expect(result.abandonedRows).toBe(2)
    expect(result.abandoned.map((f) => f.error.code)).toEqual(['BATCHSQL_OUTCOME_UNKNOWN'])
    expect(result).toMatchObject({ committed: 0, failed: 2 })
    expect(await acked).toMatchObject({ code: 'BATCHSQL_OUTCOME_UNKNOWN' })
    // Its metrics wait for its real outcome (the executor's): nothing counted twice.
    expect(metrics.errors).toEqual([])
    // Its late outcome changes nothing that was reported.
    finish()
    await tick()
    expect(gauges).toEqual([])
    expect(b.stats()).toMatchObject({ committed: 0, failed: 2 })
    let reported = 0
    for await (const _ of b.errors) reported++
    expect(reported).toBe(1)
  })

  it('a batch still at the key-order gate at the deadline is counted failed then, and never sent', async () => {
    // The batch ahead of it runs on (a statement the server keeps running): its rows were
    // missing from the failures, and in the in-flight gauge, until that batch ended.
    let release!: () => void
    const ahead = new Promise<void>((r) => (release = r))
    let started!: () => void
    const running = new Promise<void>((r) => (started = r))
    const executor = new MockExecutor(
      {
        onBatch: async () => {
          started()
          await ahead // ignores the abort
        },
      },
      { timeoutMs: 0, retry: { maxAttempts: 1 }, concurrency: 4 },
    )
    const metrics = new OutcomeRecorder()
    const bound = new Set<unknown>()
    metrics.bindGauges = (_db, g) => void bound.add(g)
    metrics.unbindGauges = (g) => void bound.delete(g)
    const b = createBatchSQL({ executor, metrics, flushSize: 2, flushInterval: 60_000 })
    const first = [1, 2].map((id) => b.submitAndWait(users, { id, name: 'a' }).catch((e) => e))
    await running
    const second = [1, 2].map((id) => b.submitAndWait(users, { id, name: 'b' }).catch((e) => e))
    await tick()
    const result = await b.close({ timeoutMs: 5 })
    expect(result.abandoned.map((f) => [f.error.code, f.rows.length]).sort()).toEqual([
      ['BATCHSQL_ABANDONED', 2],
      ['BATCHSQL_OUTCOME_UNKNOWN', 2],
    ])
    for (const e of await Promise.all(second))
      expect(e).toMatchObject({ code: 'BATCHSQL_ABANDONED' })
    expect(metrics.failedRows).toBe(2) // the gated batch; the running one is counted when it ends
    expect(metrics.errors).toEqual(['final:context_canceled'])
    expect(b.stats().inFlightBatches).toBe(1)
    expect(bound.size).toBe(1) // the running batch's sink still runs
    release()
    await Promise.all(first)
    for (let i = 0; i < 5; i++) await tick()
    expect(executor.processor.attempts).toHaveLength(1) // the gated batch was never sent
    expect(metrics.failedRows).toBe(2) // the first committed; the second not counted twice
    expect(metrics.errors).toEqual(['final:context_canceled'])
    expect(b.stats().inFlightBatches).toBe(0)
    expect(bound.size).toBe(0)
  })

  it('unbinds its gauges from a reporter it leaves (close, or another reporter)', async () => {
    const bound = new Set<unknown>()
    class Recording extends NoopMetricsReporter {
      override bindGauges(_db: string, g: unknown): void {
        bound.add(g)
      }
      override unbindGauges(g: unknown): void {
        bound.delete(g)
      }
    }
    const first = new Recording()
    const b = createBatchSQL({ executor: new MockExecutor(), metrics: first })
    expect(bound.size).toBe(1)
    b.withMetricsReporter(new Recording())
    expect(bound.size).toBe(1) // moved: bound to the second, not to both
    await b.close()
    // A closed pipeline is not kept alive (nor read) by its reporter.
    expect(bound.size).toBe(0)
  })

  it.each(['the attempt', 'one row'] as const)(
    'at the deadline, rows whose retryable failure the abort kept from a retry are abandoned (%s failed)',
    async (which) => {
      // A lock timeout that arrives after the deadline: it would have been retried, but the
      // deadline stopped that. Not written, and stopped by the deadline: abandoned, with its
      // own error as the cause (it came back as an ordinary lock_timeout, abandonedRows 0).
      let started!: () => void
      const running = new Promise<void>((r) => (started = r))
      const lockTimeout = Object.assign(new Error('lock timeout'), { code: 'LOCKED' })
      const executor = new MockExecutor(
        {
          onBatch: async (_batch, ctx) => {
            started()
            // Ignores the abort until the server answers, as a driver mid-statement does.
            await new Promise<void>((r) => ctx.signal.addEventListener('abort', () => r()))
            if (which === 'one row') return { failures: [{ index: 0, error: lockTimeout }] }
            throw lockTimeout
          },
        },
        {
          timeoutMs: 0,
          retry: { maxAttempts: 10, initialDelayMs: 1 },
          classifiers: [
            (e) => (e === lockTimeout ? { reason: 'lock_timeout', retryable: true } : undefined),
          ],
        },
      )
      const b = createBatchSQL({ executor, flushSize: 2, flushInterval: 60_000 })
      const acked = b.submitAndWait(events, { id: 1 }).catch((e: unknown) => e)
      await b.submit(events, { id: 2 })
      await running
      const result = await b.close({ timeoutMs: 5 })
      const lost = which === 'one row' ? 1 : 2
      expect(result).toMatchObject({ committed: 2 - lost, failed: lost, abandonedRows: lost })
      expect(result.abandoned.map((f) => f.error.code)).toEqual(['BATCHSQL_ABANDONED'])
      expect(result.abandoned[0]!.error.cause).toBe(lockTimeout)
      expect(await acked).toMatchObject({ code: 'BATCHSQL_ABANDONED' })
      expect(executor.processor.attempts).toHaveLength(1)
    },
  )

  it.each(['the attempt', 'one row'] as const)(
    'at the deadline, rows waiting in backoff to be retried are abandoned with the error they waited on as cause (%s failed)',
    async (which) => {
      const lockTimeout = Object.assign(new Error('lock timeout'), { code: 'LOCKED' })
      let failed!: () => void
      const inBackoff = new Promise<void>((r) => (failed = r))
      const executor = new MockExecutor(
        {
          onBatch: () => {
            setImmediate(failed)
            if (which === 'one row') return { failures: [{ index: 0, error: lockTimeout }] }
            throw lockTimeout
          },
        },
        {
          retry: { maxAttempts: 10, initialDelayMs: 60_000, jitter: 'none' },
          classifiers: [
            (e) => (e === lockTimeout ? { reason: 'lock_timeout', retryable: true } : undefined),
          ],
        },
      )
      const b = createBatchSQL({ executor, flushSize: 2, flushInterval: 60_000 })
      await b.submit(events, { id: 1 })
      await b.submit(events, { id: 2 })
      await inBackoff // the failed attempt is over: its rows sleep for 60 s before the retry
      const result = await b.close({ timeoutMs: 5 })
      const lost = which === 'one row' ? 1 : 2
      expect(result).toMatchObject({ committed: 2 - lost, failed: lost, abandonedRows: lost })
      expect(result.abandoned[0]!.error).toMatchObject({
        code: 'BATCHSQL_ABANDONED',
        reason: 'context_canceled',
      })
      // What held them up, not the AbortedError of the cut-short sleep (as until 2026-11-29).
      expect(result.abandoned[0]!.error.cause).toBe(lockTimeout)
    },
  )

  it('refusals at shutdown of submits nobody awaits do not end the process mid-drain', () => {
    // Node's default ends the process on an unhandled rejection: the child runs under it.
    const out = execFileSync(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, 'fixtures', 'fire-and-forget-child.ts')],
      { cwd: import.meta.dirname, encoding: 'utf8', timeout: 20_000 },
    )
    const { accepted, committed, written } = JSON.parse(out) as Record<string, number>
    expect(accepted).toBeGreaterThanOrEqual(20) // the buffer's room, at least
    expect(accepted).toBeLessThan(502) // some waited and were refused
    expect(committed).toBe(accepted)
    expect(written).toBe(accepted)
  })
  it('close() options are checked before anything changes: a bad one rejects, the pipeline still closes whole', async () => {
    const executor = new MockExecutor()
    const b = createBatchSQL({ executor, flushSize: 100, flushInterval: 60_000 })
    for (let id = 0; id < 250; id++) await b.submit(events, { id })
    const controller = new AbortController()
    const bad: unknown[] = [
      { signal: controller }, // the controller, not its signal
      { timeoutMs: Number.NaN },
      { timeoutMs: 2 ** 31 }, // setTimeout would fire at once: every row abandoned
      { timeoutMs: '100' },
      { timeout: 100 }, // misspelt: would mean no deadline
      null,
      // No own keys, so once taken as {}: no deadline at all.
      AbortSignal.timeout(200),
      [],
    ]
    for (const options of bad) {
      await expect(b.close(options as never)).rejects.toMatchObject({
        code: 'BATCHSQL_INVALID_CONFIG',
      })
    }
    await expect(b.close(controller.signal as never)).rejects.toThrow(/pass it as \{ signal \}/)
    expect(b.stats()).toMatchObject({ state: 'open', pending: 50 })
    // Infinity: no deadline (it was a 1 ms timer that abandoned every row).
    const result = await b.close({ timeoutMs: Number.POSITIVE_INFINITY })
    expect(result).toMatchObject({ accepted: 250, committed: 250, abandonedRows: 0 })
    await expect(b.done).resolves.toMatchObject({ committed: 250 })
    // A later call's bad options reject without touching the closed pipeline.
    await expect(b.close({ signal: controller } as never)).rejects.toMatchObject({
      code: 'BATCHSQL_INVALID_CONFIG',
    })
  })

  it.each(['stuck', 'prompt'])(
    'close({ timeoutMs }) with a sink whose close is %s: the process lives until close() resolves, and no longer',
    (mode) => {
      // A sink close that never settles holds nothing that keeps a process alive: the
      // deadline's timers must, or the process exits with close() unresolved (a SIGTERM
      // handler that never finishes). Once close() has resolved they must not (the prompt
      // one's deadline is 60 s away).
      const started = performance.now()
      const out = execFileSync(
        process.execPath,
        ['--import', 'tsx', join(import.meta.dirname, 'fixtures', 'close-child.ts'), mode],
        { cwd: import.meta.dirname, encoding: 'utf8', timeout: 20_000 },
      )
      expect(out.trim()).toMatch(/^\{"committed":1,"ms":\d+\}$/)
      const { ms } = JSON.parse(out) as { ms: number }
      // Bounded by the deadline, not the sink (generous: the machine may be loaded).
      if (mode === 'stuck') expect(ms).toBeLessThan(5_000)
      expect(performance.now() - started).toBeLessThan(15_000)
    },
  )

  it("close({ signal }) cut short by a later close()'s deadline leaves no listener on the signal (its abort would start a timer after close() resolved)", async () => {
    const processor = {
      name: 'stuck-close',
      async process() {},
      close: () => new Promise<void>(() => {}), // never settles
    }
    const b = createBatchSQL({ executor: createExecutor(processor), flushInterval: 1 })
    await b.submitAndWait(events, { id: 1 })
    const ac = new AbortController()
    const first = b.close({ signal: ac.signal })
    await tick()
    await b.close({ timeoutMs: 0 })
    await first
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0)
  })

  it('at the deadline, a batch still waiting for an earlier one sharing its key is abandoned, not unknown', async () => {
    let started!: () => void
    const running = new Promise<void>((r) => (started = r))
    const executor = new MockExecutor(
      {
        onBatch: () => {
          started()
          return new Promise<undefined>(() => {}) // never settles, ignores its signal
        },
      },
      { timeoutMs: 0, retry: { maxAttempts: 1 }, concurrency: 4 },
    )
    const b = createBatchSQL({ executor, flushSize: 1, flushInterval: 60_000 })
    await b.submit(users, { id: 1, name: 'a' })
    await running
    await b.submit(users, { id: 1, name: 'b' }) // same key: waits at the gate for the first
    const result = await b.close({ timeoutMs: 5 })
    expect(result.abandoned.map((f) => f.error.code).sort()).toEqual([
      'BATCHSQL_ABANDONED', // the second: never sent
      'BATCHSQL_OUTCOME_UNKNOWN', // the first: still running
    ])
    expect(executor.processor.attempts).toHaveLength(1)
  })

  it('a close() with a deadline while the sink is closing leaves no timer; the construction signal lets go', async () => {
    const executor = new MockExecutor()
    let sinkClosing!: () => void
    const closing = new Promise<void>((r) => (sinkClosing = r))
    let finishSinkClose!: () => void
    executor.processor.close = () => {
      sinkClosing()
      return new Promise<void>((r) => (finishSinkClose = r))
    }
    const shutdown = new AbortController()
    const b = createBatchSQL({ executor, signal: shutdown.signal, flushInterval: 60_000 })
    await b.submit(events, { id: 1 })
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
    const first = b.close()
    await closing // every row settled; only the sink is still closing
    const before = timers()
    const second = b.close({ timeoutMs: 3_600_000 }) // e.g. a SIGTERM handler, late
    finishSinkClose()
    await Promise.all([first, second])
    expect(timers()).toBeLessThanOrEqual(before)
    // The pipeline no longer listens to a signal that outlives it.
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(0)
  })

  it('at the deadline, rows of a running batch that already committed are not reported unknown', async () => {
    // Attempt 1 commits 9 rows and fails row 9 retryably; the retry of row 9 never ends.
    const executor = new MockExecutor(
      {
        onBatch: (_b, ctx) =>
          ctx.attempt === 1
            ? {
                failures: [
                  { index: 9, error: Object.assign(new Error('busy'), { code: 'ECONNRESET' }) },
                ],
              }
            : new Promise<undefined>(() => {}),
      },
      { timeoutMs: 0, retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 1 } },
    )
    const b = createBatchSQL({ executor, flushSize: 10, flushInterval: 60_000 })
    const acks = Array.from({ length: 10 }, (_, id) =>
      b.submitAndWait(events, { id }).then(
        () => 'ok',
        (e: { code: string }) => e.code,
      ),
    )
    while (executor.processor.attempts.length < 2) await tick()
    const result = await b.close({ timeoutMs: 5 })
    expect(result).toMatchObject({ committed: 9, failed: 1, abandonedRows: 1 })
    expect(result.abandoned[0]!.error.code).toBe('BATCHSQL_OUTCOME_UNKNOWN')
    expect(await Promise.all(acks)).toEqual([...Array(9).fill('ok'), 'BATCHSQL_OUTCOME_UNKNOWN'])
  })

  it('a second close() with a deadline leaves no timer behind', async () => {
    const executor = new MockExecutor()
    const b = createBatchSQL({ executor, flushInterval: 60_000 })
    await b.submit(events, { id: 1 })
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
    const before = timers()
    const first = b.close()
    const second = b.close({ timeoutMs: 3_600_000 })
    await Promise.all([first, second])
    // The flush timer is gone, and no deadline timer took its place.
    expect(timers()).toBeLessThan(before)
  })

  it('close is idempotent and async dispose closes', async () => {
    const executor = new MockExecutor()
    const b = createBatchSQL({ executor })
    expect(b.close()).toBe(b.close())
    await b.close()
    expect(executor.processor.closed).toBe(true)
    const c = createBatchSQL({ executor: new MockExecutor() })
    {
      await using _d = c
      await c.submit(events, { id: 1 })
    }
    expect(c.stats()).toMatchObject({ state: 'closed', committed: 1 })
  })

  it('an aborted construction signal drains the buffer instead of dropping it', async () => {
    const ctl = new AbortController()
    const executor = new MockExecutor()
    const b = new BatchSQL({ executor, signal: ctl.signal, flushInterval: 60_000 })
    await b.submit(events, { id: 1 })
    ctl.abort()
    const r = await b.done
    expect(r.committed).toBe(1)
    expect(executor.rows()).toEqual([{ id: 1 }])
    await expect(b.submit(events, { id: 2 })).rejects.toBeInstanceOf(ClosedError)
  })

  it('a close deadline given after draining began still applies', async () => {
    const { processor, executor } = gatedExecutor({ concurrency: 1, retry: { maxAttempts: 1 } })
    const ctl = new AbortController()
    const b = createBatchSQL({ executor, signal: ctl.signal, flushSize: 2, flushInterval: 60_000 })
    for (let i = 0; i < 3; i++) await b.submit(events, { id: i })
    await processor.waitFor(1)
    ctl.abort() // drain begins; the gated batch never finishes on its own
    await tick()
    const r = await b.close({ timeoutMs: 1 })
    expect(r.abandonedRows).toBe(3)
  })

  it('a submit racing close is either written or rejected, never dropped', async () => {
    for (let round = 0; round < 50; round++) {
      const executor = new MockExecutor()
      const b = createBatchSQL({ executor, flushSize: 3 })
      const submits = Array.from({ length: 10 }, (_, i) =>
        b.submit(events, { id: i }).then(
          () => i,
          () => -1,
        ),
      )
      const closing = b.close()
      const late = Array.from({ length: 5 }, (_, i) =>
        b.submit(events, { id: 100 + i }).then(
          () => 100 + i,
          () => -1,
        ),
      )
      const outcomes = await Promise.all([...submits, ...late])
      await closing
      const accepted = outcomes.filter((x) => x >= 0).sort((a, z) => a - z)
      const written = executor
        .rows()
        .map((r) => r.id as number)
        .sort((a, z) => a - z)
      expect(written).toEqual(accepted)
    }
  })
})

describe('conflict ordering across batches', () => {
  it('a later batch touching the same keys never commits before an earlier one', async () => {
    const commits: number[] = []
    let n = 0
    const executor = new MockExecutor(
      {
        onBatch: async () => {
          const me = n++
          // The first batch is the slowest: without ordering, later ones would commit first.
          await new Promise((r) => setTimeout(r, me === 0 ? 30 : 1))
          commits.push(me)
        },
      },
      { concurrency: 4 },
    )
    const b = createBatchSQL({
      executor,
      flushSize: 2,
      maxInFlightFlushes: 4,
      flushInterval: 60_000,
    })
    for (let i = 0; i < 8; i++) await b.submit(users, { id: i % 2, name: `v${i}` })
    await b.close()
    expect(commits).toEqual([0, 1, 2, 3])
    const last = new Map(executor.rows('users').map((r) => [r.id, r.name]))
    expect(last.get(0)).toBe('v6')
    expect(last.get(1)).toBe('v7')
  })

  it('a batch held back by an unfinished one asks the sink to finish it (expedite)', async () => {
    // A sink that holds finished batches (SQLite's group commit) finishes them when asked.
    const { processor, executor } = gatedExecutor({ concurrency: 4 })
    let asked = 0
    Object.assign(processor, {
      expedite: () => {
        asked++
        processor.releaseAll()
      },
    })
    const b = createBatchSQL({
      executor,
      flushSize: 2,
      maxInFlightFlushes: 4,
      flushInterval: 60_000,
    })
    await b.submit(users, { id: 1, name: 'a' })
    await b.submit(users, { id: 2, name: 'b' })
    await processor.waitFor(1)
    await b.submit(users, { id: 10, name: 'c' })
    await b.submit(users, { id: 11, name: 'd' }) // no key in common: runs beside the first
    await processor.waitFor(2)
    expect(asked).toBe(0)
    await b.submit(users, { id: 1, name: 'e' })
    await b.submit(users, { id: 3, name: 'f' }) // shares id 1: waits, and asks
    // Arrives only because the sink was asked to finish the first batch.
    await processor.waitFor(3)
    expect(asked).toBe(1)
    expect(processor.received[2]!.rows.map((r) => r.get('name'))).toEqual(['e', 'f'])
    const result = await closeReleasing(b, processor)
    expect(result).toMatchObject({ committed: 6, failed: 0 })
  })

  it('orders string keys too, and keeps disjoint batches concurrent (in an any column 1 and "1" are one key)', async () => {
    const kv = defineSchema({
      table: 'kv',
      columns: ['k', 'v'],
      strategy: 'replace',
      conflictColumns: ['k'],
    })
    const { processor, executor } = gatedExecutor({ concurrency: 8 })
    const b = createBatchSQL({
      executor,
      flushSize: 1,
      maxInFlightFlushes: 8,
      flushInterval: 60_000,
    })
    await b.submit(kv, { k: 'a', v: 1 })
    await b.submit(kv, { k: 1, v: 2 }) // not "a"
    await b.submit(kv, { k: 'b', v: 3 })
    await b.submit(kv, { k: 'a', v: 4 }) // waits for the first batch
    // A numeric column stores it as the row of 1 above: it waits for that batch.
    await b.submit(kv, { k: '1', v: 5 })
    await processor.waitFor(3)
    await tick()
    expect(processor.received.map((x) => x.rows[0]!.get('v'))).toEqual([1, 2, 3])
    processor.releaseAll()
    await processor.waitFor(5)
    expect(
      processor.received
        .slice(3)
        .map((x) => x.rows[0]!.get('v') as number)
        .sort(),
    ).toEqual([4, 5])
    await closeReleasing(b, processor)
  })
})

describe('two schemas on one table (one order scope)', () => {
  // A partial upsert beside the full one: the same table and conflict key.
  const names = defineSchema({
    table: 'users',
    columns: { id: 'int', name: 'string' },
    strategy: 'update',
    conflictColumns: ['id'],
  })
  const renames = defineSchema({
    table: 'users',
    columns: { id: 'int', name: 'string' },
    strategy: 'update',
    conflictColumns: ['id'],
  })
  /**
   * A pipeline (`flushSize` rows a flush, up to 4 in flight) on a sink whose first batch is
   * slow; the sink records each batch as its rows' names, in commit order.
   */
  const slowFirst = (flushSize: number, concurrency = 4) => {
    const commits: string[][] = []
    let n = 0
    const executor = new MockExecutor(
      {
        onBatch: async (batch) => {
          const me = n++
          await new Promise((r) => setTimeout(r, me === 0 ? 30 : 1))
          commits.push(batch.rows.map((r) => String(r.get('name'))))
        },
      },
      { concurrency },
    )
    const b = createBatchSQL({ executor, flushSize, maxInFlightFlushes: 4, flushInterval: 60_000 })
    return { commits, b }
  }

  it("a batch of one schema never commits before an earlier batch of the other sharing a key; disjoint ones don't wait", async () => {
    const { commits, b } = slowFirst(2)
    await b.submit(names, { id: 0, name: 'a0' })
    await b.submit(names, { id: 1, name: 'a1' }) // flush 1: slow
    await b.submit(renames, { id: 0, name: 'b0' })
    await b.submit(renames, { id: 5, name: 'b5' }) // flush 2: shares id 0, waits
    await b.submit(renames, { id: 7, name: 'b7' })
    await b.submit(renames, { id: 8, name: 'b8' }) // flush 3: disjoint, runs at once
    await b.close()
    expect(commits).toEqual([
      ['b7', 'b8'],
      ['a0', 'a1'],
      ['b0', 'b5'],
    ])
  })

  it('schemas of one table with different conflict keys wait for each other whole', async () => {
    const byName = defineSchema({
      table: 'users',
      columns: { id: 'int', name: 'string' },
      strategy: 'update',
      conflictColumns: ['name'],
    })
    const { commits, b } = slowFirst(1)
    await b.submit(names, { id: 0, name: 'a' })
    await b.submit(byName, { id: 9, name: 'z' }) // no key in common that BatchSQL can see
    await b.close()
    expect(commits).toEqual([['a'], ['z']])
    // And in one flush, interleaved, each run of one schema is its own batch, in order.
    const second = slowFirst(3, 1)
    const c = second.b
    await c.submit(names, { id: 0, name: 'a' })
    await c.submit(byName, { id: 0, name: 'b' })
    await c.submit(names, { id: 5, name: 'c' })
    await c.close()
    expect(second.commits).toEqual([['a'], ['b'], ['c']])
  })

  it('an orderScope ties schemas of different tables; without one they stay independent', async () => {
    const scoped = (table: string, orderScope?: string) =>
      defineSchema({
        table,
        columns: { id: 'int', name: 'string' },
        strategy: 'replace',
        conflictColumns: ['id'],
        ...(orderScope === undefined ? {} : { orderScope }),
      })
    for (const [scope, expected] of [
      ['shared', [['x'], ['y']]],
      [undefined, [['y'], ['x']]],
    ] as const) {
      const { commits, b } = slowFirst(1)
      await b.submit(scoped('view_a', scope), { id: 1, name: 'x' })
      await b.submit(scoped('view_b', scope), { id: 1, name: 'y' })
      await b.close()
      expect(commits, String(scope)).toEqual(expected)
    }
  })

  it('one flush that interleaves the two schemas on a key is split into runs, in submit order', async () => {
    const { commits, b } = slowFirst(4, 1)
    await b.submit(names, { id: 1, name: 'a1' })
    await b.submit(renames, { id: 1, name: 'b1' })
    await b.submit(names, { id: 2, name: 'a2' })
    await b.submit(names, { id: 1, name: 'a1 again' })
    await b.close()
    expect(commits).toEqual([['a1'], ['b1'], ['a2', 'a1 again']])
  })

  it('one flush whose schemas touch a key in schema order stays one batch per schema', async () => {
    const { commits, b } = slowFirst(4, 1)
    await b.submit(names, { id: 1, name: 'a1' })
    await b.submit(renames, { id: 1, name: 'b1' })
    await b.submit(names, { id: 2, name: 'a2' }) // after b1, but no key in common with it
    await b.submit(renames, { id: 3, name: 'b3' })
    await b.close()
    expect(commits).toEqual([
      ['a1', 'a2'],
      ['b1', 'b3'],
    ])
  })
})

describe('cutting a flush for schemas of one scope, and keys that cannot be hashed', () => {
  const a = defineSchema({
    table: 't',
    columns: ['id', 'v'],
    strategy: 'replace',
    conflictColumns: ['id'],
  })
  const b = defineSchema({
    table: 't',
    columns: ['id', 'w'],
    strategy: 'replace',
    conflictColumns: ['id'],
  })
  const recording = () => {
    const batches: string[] = []
    const executor = new MockExecutor({
      onBatch: (batch) => {
        batches.push(`${batch.schema === a ? 'a' : 'b'}×${batch.rows.length}`)
      },
    })
    return { batches, executor }
  }

  it('one key going back cuts the flush once, not into a batch per row', async () => {
    const { batches, executor } = recording()
    const p = createBatchSQL({ executor, flushSize: 201, flushInterval: 60_000 })
    // Each key through a, then b (in schema order: no cut), then key 0 through a again.
    for (let id = 0; id < 100; id++) {
      await p.submit(a, { id, v: 1 })
      await p.submit(b, { id, w: 2 })
    }
    await p.submit(a, { id: 0, v: 3 }) // after b's row of key 0: a new piece
    await p.close()
    expect(batches).toEqual(['a×100', 'b×100', 'a×1'])
  })

  it('a keyHash that throws: the rows are still written, in order, and every one is settled', async () => {
    const hashed = (name: string) =>
      defineSchema({
        table: name,
        columns: ['id', 'v'],
        strategy: 'replace',
        conflictColumns: ['id'],
        orderScope: 'shared',
        keyHash: (values, base) => {
          if (values[base] === 13) throw new Error('cannot hash 13')
          return Number(values[base])
        },
      })
    const [x, y] = [hashed('x'), hashed('y')]
    const order: string[] = []
    const executor = new MockExecutor(
      {
        onBatch: async (batch) => {
          await new Promise((r) => setTimeout(r, 2))
          order.push(batch.rows.map((r) => `${batch.schema.table}${r.get('id')}`).join(' '))
        },
      },
      { concurrency: 4 },
    )
    const p = createBatchSQL({
      executor,
      flushSize: 2,
      maxInFlightFlushes: 4,
      flushInterval: 60_000,
    })
    await p.submit(x, { id: 13, v: 1 })
    await p.submit(y, { id: 13, v: 2 }) // one flush: x then y on the unhashable key
    await p.submit(x, { id: 13, v: 3 })
    await p.submit(y, { id: 1, v: 4 }) // the next flush: waits for the one before, whole
    const result = await p.close()
    expect(result).toMatchObject({ committed: 4, failed: 0 })
    expect(order).toEqual(['x13', 'y13', 'x13', 'y1'])
  })
})

describe('a write the executor gave up on while the sink still runs it', () => {
  it('keeps its keys at the gate until it ends: a later batch on them does not commit first', async () => {
    const users = defineSchema({
      table: 'users',
      columns: ['id', 'name'],
      strategy: 'update',
      conflictColumns: ['id'],
    })
    const commits: string[] = []
    let finishFirst!: () => void
    const executor = new MockExecutor(
      {
        onBatch: async (batch) => {
          const name = String(batch.rows[0]!.get('name'))
          // The first write ignores its abort and ends only when told (a statement the
          // server keeps running).
          if (name === 'old') await new Promise<void>((r) => (finishFirst = r))
          commits.push(name)
        },
      },
      { concurrency: 4, timeoutMs: 10, retry: { maxAttempts: 1 } },
    )
    const p = createBatchSQL({
      executor,
      flushSize: 1,
      maxInFlightFlushes: 4,
      flushInterval: 60_000,
    })
    const first = p
      .submitAndWait(users, { id: 1, name: 'old' })
      .catch((e: BatchFailedError) => e.code)
    expect(await first).toBe('BATCHSQL_OUTCOME_UNKNOWN') // given up on after 2 x timeoutMs
    const second = p.submitAndWait(users, { id: 1, name: 'new' })
    await new Promise((r) => setTimeout(r, 30))
    expect(commits).toEqual([]) // the later write on key 1 waits for the one still running
    finishFirst()
    await second
    expect(commits).toEqual(['old', 'new'])
    await p.close()
  })

  it("close({ timeoutMs }) resolves though the sink's own close never ends", async () => {
    const events = defineSchema({ table: 'e', columns: ['id'] })
    const executor = new MockExecutor()
    Object.assign(executor, { close: () => new Promise<void>(() => {}) }) // never ends
    const p = createBatchSQL({ executor, flushSize: 1, flushInterval: 60_000 })
    await p.submitAndWait(events, { id: 1 })
    const result = await p.close({ timeoutMs: 20 })
    expect(result).toMatchObject({ accepted: 1, committed: 1, abandonedRows: 0 })
    expect(p.stats().state).toBe('closed')
  })

  it('a later close({ timeoutMs }) bounds the wait for the sink that an earlier close() started', async () => {
    const events = defineSchema({ table: 'e', columns: ['id'] })
    const executor = new MockExecutor()
    let sinkClosing!: () => void
    const closeCalled = new Promise<void>((r) => (sinkClosing = r))
    Object.assign(executor, {
      close: () => {
        sinkClosing()
        return new Promise<void>(() => {}) // never ends
      },
    })
    const p = createBatchSQL({ executor, flushSize: 1, flushInterval: 60_000 })
    await p.submitAndWait(events, { id: 1 })
    const first = p.close() // no deadline: would wait for the sink forever
    await closeCalled // drained: now waiting for the sink's close
    const second = p.close({ timeoutMs: 10 }) // a second SIGTERM
    expect(second).toBe(first)
    expect(await second).toMatchObject({ committed: 1, abandonedRows: 0 })
  })

  it('a later close({ timeoutMs }) given while draining bounds the sink close too', async () => {
    const events = defineSchema({ table: 'e', columns: ['id'] })
    let started!: () => void
    const running = new Promise<void>((r) => (started = r))
    // A batch that runs until aborted, and a sink whose close never ends.
    const executor = new MockExecutor({
      onBatch: (_b, ctx) => {
        started()
        return new Promise<void>((_, reject) =>
          ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true }),
        )
      },
    })
    Object.assign(executor, { close: () => new Promise<void>(() => {}) })
    const p = createBatchSQL({ executor, flushSize: 1, flushInterval: 60_000 })
    await p.submit(events, { id: 1 })
    await running
    void p.close() // no deadline: would wait for the batch, then the sink, forever
    const result = await p.close({ timeoutMs: 10 }) // a second SIGTERM, while still draining
    expect(result).toMatchObject({ accepted: 1, abandonedRows: 1 })
    expect(result.abandoned[0]!.error).toMatchObject({ code: 'BATCHSQL_ABANDONED' })
  })

  it('close({ timeoutMs }) still resolves when the sink cannot close before that write ends', async () => {
    const events = defineSchema({ table: 'e', columns: ['id'] })
    let finish!: () => void
    const stuck = new Promise<void>((r) => (finish = r))
    const executor = new MockExecutor(
      { onBatch: () => stuck }, // ignores its abort
      { timeoutMs: 10, retry: { maxAttempts: 1 } },
    )
    // A sink whose close waits for its busy connection (pg's pool.end() does).
    Object.assign(executor, { close: () => stuck })
    const p = createBatchSQL({ executor, flushSize: 1, flushInterval: 60_000 })
    const ack = p.submitAndWait(events, { id: 1 }).catch((e: BatchFailedError) => e.code)
    expect(await ack).toBe('BATCHSQL_OUTCOME_UNKNOWN')
    const closed = p.close({ timeoutMs: 20 }).then(() => 'closed')
    const late = new Promise((r) => setTimeout(() => r('still waiting'), 2_000))
    expect(await Promise.race([closed, late])).toBe('closed')
    finish()
  })
})

describe('defects and construction failures', () => {
  it('an executor that throws: its rows reported as of unknown outcome, the batch in the metrics', async () => {
    const metrics = new (class extends OutcomeRecorder {
      outcomeUnknown = 0
      override recordBatch(m: { rows: number; committed: number; outcomeUnknown?: number }) {
        super.recordBatch(m)
        this.outcomeUnknown += m.outcomeUnknown ?? 0
      }
    })()
    const failures: BatchFailure[] = []
    const b = createBatchSQL({
      executor: {
        name: 'broken',
        concurrency: 1,
        execute: async () => {
          throw new Error('defect')
        },
      },
      metrics,
      flushSize: 2,
      onError: (f) => failures.push(f),
    })
    await b.submitMany(events, [
      { id: 1, payload: 'a' },
      { id: 2, payload: 'b' },
    ])
    expect(await b.close()).toMatchObject({ committed: 0, failed: 2 })
    // The executor had the batch: some of it may have been written.
    expect(failures[0]!.error).toMatchObject({
      code: 'BATCHSQL_OUTCOME_UNKNOWN',
      reason: 'unknown',
    })
    expect(metrics.failedRows).toBe(2)
    expect(metrics.outcomeUnknown).toBe(2)
    expect(metrics.errors).toEqual(['final:unknown'])
  })

  it('a pipeline that fails to construct leaves its metrics reporter unbound', () => {
    const bind = vi.fn()
    const metrics = new (class extends NoopMetricsReporter {
      override bindGauges(database: string, gauges: PipelineGauges): void {
        bind(database, gauges)
      }
    })()
    expect(() =>
      createBatchSQL({ executor: new MockExecutor(), metrics, signal: 'bad' as never }),
    ).toThrow(expect.objectContaining({ code: 'BATCHSQL_INVALID_CONFIG' }))
    expect(bind).not.toHaveBeenCalled()
  })
})
