import { describe, expect, it, vi } from 'vitest'
import {
  type BatchFailure,
  type BatchSQL,
  createBatchSQL,
  defineSchema,
  NoopMetricsReporter,
  type Schema,
} from '../src/index.js'
import { MockExecutor } from '../src/testing.js'
import { gatedExecutor, tick, withFakeClock } from './helpers.js'

/** Waits until `done()` holds, for at most `turns` 1 ms timers (retries back off on timers). */
async function until(done: () => boolean, turns = 2_000): Promise<void> {
  for (let i = 0; i < turns && !done(); i++) await new Promise((r) => setTimeout(r, 1))
}

/** A lock timeout: retryable, as the executor below classifies it. */
const lockTimeout = new Error('lock wait timeout')
/**
 * Executor options for a table that keeps failing with lock timeouts: retried (almost) for
 * ever, with 1 ms backoffs. While an attempt runs it holds an executor slot, as a real one
 * would; between attempts other tables' batches get the slots.
 */
const retryingForEver = (concurrency: number) => ({
  concurrency,
  timeoutMs: 0,
  retry: { maxAttempts: 1_000_000, initialDelayMs: 1, maxDelayMs: 1 },
  classifiers: [
    (e: unknown) =>
      e === lockTimeout ? { reason: 'lock_timeout' as const, retryable: true } : undefined,
  ],
})

const good = defineSchema({ table: 'good', columns: { id: 'int' } })
const bad = defineSchema({ table: 'bad', columns: { id: 'int' } })

/** Submits 30 rows of each table, interleaved; every good row commits, no bad one yet. */
async function goodPassesBad(b: BatchSQL, executor: MockExecutor): Promise<void> {
  for (let i = 0; i < 30; i++) {
    await b.submit(good, { id: i })
    await b.submit(bad, { id: i })
  }
  await until(() => executor.rows('good').length === 30)
  expect(executor.rows('good')).toHaveLength(30)
  expect(executor.rows('bad')).toHaveLength(0)
}

describe('a slow order scope holds at most `concurrency` groups (no head-of-line blocking)', () => {
  it("a table whose batches keep retrying does not stop another table's rows", async () => {
    let badFails = true
    const executor = new MockExecutor(
      {
        onBatch: (batch) => {
          if (batch.schema.table === 'bad' && badFails) throw lockTimeout
        },
      },
      retryingForEver(2),
    )
    // maxInFlightFlushes defaults to 4: 4 x 4 rows could be in flight, and 60 are submitted.
    const b = createBatchSQL({ executor, flushSize: 4, bufferSize: 100, flushInterval: 60_000 })
    // Every good row committed while the bad table's first batches still fail.
    await goodPassesBad(b, executor)
    // With another table at work the bad table has `concurrency - 1` groups (2 rows each)
    // dispatched, one executor slot left to the others; the rest are held, as buffered rows.
    expect(b.stats()).toMatchObject({ inFlightBatches: 1, inFlightFlushes: 1, pending: 28 })
    badFails = false
    const result = await b.close()
    expect(result).toMatchObject({ accepted: 60, committed: 60, failed: 0, abandonedRows: 0 })
    const ids = (table: string) =>
      executor
        .rows(table)
        .map((r) => r.id as number)
        .sort((x, y) => x - y)
    const all = Array.from({ length: 30 }, (_, i) => i)
    expect(ids('good')).toEqual(all)
    expect(ids('bad')).toEqual(all) // each once
    expect(b.stats()).toMatchObject({ pending: 0, inFlightBatches: 0, inFlightFlushes: 0 })
  })
})

describe('a table whose attempts are slow (not failing)', () => {
  it('leaves an executor slot to the other tables at work', async () => {
    let release!: () => void
    const blocked = new Promise<void>((r) => {
      release = r
    })
    const executor = new MockExecutor(
      { onBatch: (batch) => (batch.schema.table === 'bad' ? blocked : undefined) },
      { concurrency: 2, timeoutMs: 0 },
    )
    const b = createBatchSQL({ executor, flushSize: 4, bufferSize: 100, flushInterval: 60_000 })
    // Every good row committed while the bad table's attempts are still running.
    await goodPassesBad(b, executor)
    expect(b.stats().inFlightBatches).toBeLessThan(2)
    release()
    expect(await b.close()).toMatchObject({ accepted: 60, committed: 60, failed: 0 })
    expect(executor.rows('bad')).toHaveLength(30)
  })

  it('a table alone still gets every executor slot', async () => {
    const gates: (() => void)[] = []
    const executor = new MockExecutor(
      { onBatch: () => new Promise<undefined>((r) => gates.push(() => r(undefined))) },
      { concurrency: 3, timeoutMs: 0 },
    )
    const b = createBatchSQL({ executor, flushSize: 2, bufferSize: 100, flushInterval: 60_000 })
    for (let i = 0; i < 20; i++) await b.submit(good, { id: i })
    await until(() => executor.processor.running === 3)
    expect(executor.processor.running).toBe(3)
    const closing = b.close()
    while (b.stats().state !== 'closed') {
      for (const g of gates.splice(0)) g()
      await new Promise((r) => setTimeout(r, 1))
    }
    expect(await closing).toMatchObject({ accepted: 20, committed: 20, failed: 0 })
  })
})

describe('held groups keep their order', () => {
  const upsert = (table: string, orderScope?: string) =>
    defineSchema({
      table,
      columns: { id: 'int', seq: 'int' },
      strategy: 'update',
      conflictColumns: ['id'],
      ...(orderScope === undefined ? {} : { orderScope }),
    })
  const cases: [string, Schema[]][] = [
    ['one upsert schema', [upsert('kv')]],
    ['two schemas of one table', [upsert('kv'), upsert('kv')]],
    ['two tables sharing an orderScope', [upsert('kv_a', 'shared'), upsert('kv_b', 'shared')]],
  ]
  for (const [name, schemas] of cases) {
    it(`a later value of a key never overtakes an earlier one (${name})`, async () => {
      let release!: () => void
      const gate = new Promise<void>((r) => (release = r))
      // The rows in the order the sink wrote them, across schemas.
      const written: { id: number; seq: number }[] = []
      const executor = new MockExecutor(
        {
          onBatch: async (batch) => {
            await gate
            for (const r of batch.rows)
              written.push({ id: r.get('id') as number, seq: r.get('seq') as number })
          },
        },
        { concurrency: 2 },
      )
      const b = createBatchSQL({ executor, flushSize: 3, bufferSize: 200, flushInterval: 60_000 })
      const last = new Map<number, number>()
      for (let seq = 0; seq < 60; seq++) {
        const id = (seq * 7) % 5
        await b.submit(schemas[seq % schemas.length]!, { id, seq })
        last.set(id, seq)
      }
      await tick()
      // The scope has `concurrency` groups dispatched; later ones wait, held.
      expect(b.stats().inFlightBatches).toBe(2)
      expect(b.stats().pending).toBeGreaterThan(0)
      release()
      const result = await b.close()
      expect(result).toMatchObject({ accepted: 60, committed: 60, failed: 0 })
      expect(written).toHaveLength(60)
      // Per key, the values were written in submit order, so the last submitted one wins.
      const seen = new Map<number, number>()
      for (const { id, seq } of written) {
        expect(seq, `key ${id}`).toBeGreaterThan(seen.get(id) ?? -1)
        seen.set(id, seq)
      }
      expect(seen).toEqual(last)
    })
  }
})

describe('close() with a deadline while groups are held', () => {
  it('abandons the held rows (never sent, never run after), and every row is accounted for', async () => {
    // The bad table's batches fail until the deadline aborts them; good ones commit at once.
    const executor = new MockExecutor(
      {
        onBatch: (batch) => {
          if (batch.schema.table === 'bad') throw lockTimeout
        },
      },
      retryingForEver(1),
    )
    const b = createBatchSQL({ executor, flushSize: 2, bufferSize: 100, flushInterval: 60_000 })
    await b.submit(bad, { id: 0 })
    await b.submit(bad, { id: 1 }) // flush 1: runs, until the deadline aborts it
    const acks: Promise<unknown>[] = []
    for (let i = 2; i < 8; i++) {
      const ack = b.submitAndWait(bad, { id: i }) // flushes 2 to 4: held behind flush 1
      await ack.accepted
      acks.push(
        ack.then(
          () => 'committed',
          (e: { code?: string }) => e.code,
        ),
      )
      await b.submit(good, { id: i }) // flushes of good rows: not held
    }
    await until(() => executor.rows('good').length === 6)
    expect(executor.rows('good')).toHaveLength(6)
    expect(b.stats()).toMatchObject({ pending: 6, inFlightBatches: 1 })
    const result = await b.close({ timeoutMs: 5 })
    expect(await Promise.all(acks)).toEqual(Array(6).fill('BATCHSQL_ABANDONED'))
    const heldIds = (f: BatchFailure) => f.rows.map((r) => r.get('id') as number)
    const held = result.abandoned.filter((f) => f.attempts === 0)
    expect(held.flatMap(heldIds).sort()).toEqual([2, 3, 4, 5, 6, 7])
    for (const f of held) {
      expect(f.error.code).toBe('BATCHSQL_ABANDONED')
      // Abandoned as buffered rows are, by the deadline itself: the executor never had them.
      expect(f.error.cause).toMatchObject({
        name: 'AbortedError',
        message: 'close deadline passed',
      })
    }
    expect(result.accepted).toBe(14)
    expect(result.committed).toBe(6)
    expect(result.accepted).toBe(result.committed + result.failed)
    // Nothing held was sent, before the close or after it.
    const attempts = executor.processor.attempts.length
    for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 1))
    expect(executor.processor.attempts.length).toBe(attempts)
    const badIds = executor.processor.attempts
      .filter((a) => a.table === 'bad')
      .flatMap((a) => a.rows.map((r) => r.id))
    expect(new Set(badIds)).toEqual(new Set([0, 1]))
  })
})

describe('memory stays bounded with held groups', () => {
  it('rows of a held group that runs outside any flush slot keep their room in the buffer', async () => {
    // Each batch waits until the test releases it, in arrival order.
    const waiting: (() => void)[] = []
    const executor = new MockExecutor(
      { onBatch: () => new Promise<undefined>((r) => waiting.push(() => r(undefined))) },
      { concurrency: 1 },
    )
    const [flushSize, bufferSize, maxInFlightFlushes] = [2, 4, 2]
    const b = createBatchSQL({
      executor,
      flushSize,
      bufferSize,
      maxInFlightFlushes,
      flushInterval: 60_000,
    })
    const table = (name: string) => defineSchema({ table: name, columns: { id: 'int' } })
    const [a, bb, c, d] = [table('a'), table('b'), table('c'), table('d')]
    const unsettled = () => {
      const s = b.stats()
      return s.accepted - s.committed - s.failed
    }
    const bound = bufferSize + maxInFlightFlushes * flushSize
    for (const [schema, id] of [
      [a, 0], // flush 1: runs (a flush slot)
      [a, 2], // flush 2: held behind it (cap 1); its flush holds no slot
      [bb, 4], // flush 3: runs (the second slot)
      [c, 6], // flush 4: buffered, no slot free
    ] as const) {
      await b.submit(schema, { id })
      await b.submit(schema, { id: id + 1 })
    }
    await tick()
    expect(b.stats()).toMatchObject({ pending: 4, inFlightFlushes: 2 })
    // Flush 1 ends: the held group of `a` runs outside any slot, flush 4 takes the free slot.
    waiting.shift()!()
    await until(() => b.stats().inFlightBatches === 3)
    expect(b.stats()).toMatchObject({ pending: 0, inFlightBatches: 3, inFlightFlushes: 2 })
    // The buffer takes only what keeps every row within bufferSize + slots x flushSize.
    const more = b.submitMany(d, [{ id: 8 }, { id: 9 }, { id: 10 }, { id: 11 }])
    await tick()
    expect(unsettled()).toBeLessThanOrEqual(bound)
    expect(b.stats().waitingSubmits).toBe(1)
    // Released batch by batch: the waiting rows get in, within the bound, and all commit.
    let admitted = false
    void more.then(() => (admitted = true))
    for (let i = 0; i < 100 && !admitted; i++) {
      for (const release of waiting.splice(0)) release()
      await tick()
      expect(unsettled()).toBeLessThanOrEqual(bound)
    }
    expect(admitted).toBe(true)
    const closing = b.close()
    while (b.stats().state !== 'closed') {
      for (const release of waiting.splice(0)) release()
      await tick()
    }
    expect(await closing).toMatchObject({ accepted: 12, committed: 12, failed: 0 })
  })
})

describe('held rows are merged', () => {
  it('small flushes held behind a slow batch run as batches of up to flushSize rows, as the buffer would have merged them', async () => {
    let release!: () => void
    const blocked = new Promise<void>((r) => {
      release = r
    })
    let first = true
    const executor = new MockExecutor(
      {
        onBatch: async () => {
          if (first) {
            first = false
            await blocked
          }
        },
      },
      { concurrency: 1 },
    )
    // Each row is flushed alone by the 1 ms interval while the first batch is blocked.
    const b = createBatchSQL({ executor, flushSize: 10, flushInterval: 1 })
    await b.submit(good, { id: 0 })
    await until(() => executor.processor.attempts.length === 1)
    for (let i = 1; i <= 25; i++) {
      await b.submit(good, { id: i })
      await until(() => b.stats().flushes === i + 1)
    }
    expect(b.stats()).toMatchObject({ flushes: 26, inFlightBatches: 1, pending: 25 })
    release()
    await b.close()
    expect(executor.batches.map((x) => x.rows.length)).toEqual([1, 10, 10, 5])
    expect(executor.rows('good').map((r) => r.id)).toEqual(Array.from({ length: 26 }, (_, i) => i))
  })
})

describe('queue wait of rows held behind a busy table', () => {
  it('counts the time they were held, recorded when they run', async () => {
    // On a fake clock: the figures are the clock's, not the machine's.
    await withFakeClock(async () => {
      const waits: number[] = []
      class Recording extends NoopMetricsReporter {
        override recordQueueWait(seconds: number) {
          waits.push(seconds)
        }
      }
      const { processor, executor } = gatedExecutor({ concurrency: 1 })
      const b = createBatchSQL({
        executor,
        flushSize: 2,
        bufferSize: 10,
        flushInterval: 60_000,
        metrics: new Recording(),
      })
      await b.submit(good, { id: 1 })
      await b.submit(good, { id: 2 }) // a full flush: runs, and holds the table's one slot
      await processor.waitFor(1)
      await b.submit(good, { id: 3 })
      await b.submit(good, { id: 4 }) // flushed at once, held behind the running batch
      expect(b.stats().pending).toBe(2)
      await vi.advanceTimersByTimeAsync(1_500)
      expect(waits).toEqual([0]) // nothing for the held rows yet: they still wait
      processor.releaseAll()
      await processor.waitFor(2)
      expect(waits).toEqual([0, 1.5])
      processor.releaseAll()
      expect(await b.close()).toMatchObject({ committed: 4 })
    })
  })
})
