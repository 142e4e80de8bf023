import { describe, expect, it } from 'vitest'
import {
  AbortedError,
  ClosedError,
  createBatchSQL,
  defineSchema,
  NoopMetricsReporter,
  ValidationError,
} from '../src/index.js'
import { MockExecutor } from '../src/testing.js'
import { closeReleasing, gatedExecutor, tick } from './helpers.js'

// The caller's code runs inside submit(): a row's getters and toJSON() while the row is read,
// a submitMany() iterator, a metrics reporter. Code there that calls back into the same
// pipeline (submits, closes) must not corrupt the buffer: every row is written whole, once, or
// refused with a typed error.

const events = defineSchema({ table: 'events', columns: { id: 'int', tag: 'string' } })

describe('re-entrant calls from code run during a submit', () => {
  it('a getter that submits another row: both rows written whole, even when that seals the flush', async () => {
    for (const flushSize of [2, 500]) {
      const executor = new MockExecutor()
      const b = createBatchSQL({ executor, flushSize })
      await b.submit(events, { id: 1, tag: 'before' })
      let inner: Promise<void> | undefined
      await b.submit(events, {
        id: 2,
        get tag() {
          inner = b.submit(events, { id: 3, tag: 'inner' })
          return 'outer'
        },
      })
      await inner
      const result = await b.close()
      expect(result).toMatchObject({ accepted: 3, committed: 3, failed: 0 })
      const rows = executor.rows('events').sort((x, y) => Number(x.id) - Number(y.id))
      expect(rows).toEqual([
        { id: 1, tag: 'before' },
        { id: 2, tag: 'outer' },
        { id: 3, tag: 'inner' },
      ])
    }
  })

  it('a getter that submits a row and then throws: the inner row is written, the outer refused, no empty row', async () => {
    const executor = new MockExecutor()
    const b = createBatchSQL({ executor })
    await b.submit(events, { id: 1, tag: 'before' })
    let inner: Promise<void> | undefined
    const outer = b.submit(events, {
      id: 2,
      get tag(): string {
        inner = b.submit(events, { id: 3, tag: 'inner' })
        throw new Error('no tag')
      },
    })
    await expect(outer).rejects.toBeInstanceOf(ValidationError)
    await inner
    expect(await b.close()).toMatchObject({ accepted: 2, committed: 2 })
    expect(executor.rows('events')).toEqual([
      { id: 1, tag: 'before' },
      { id: 3, tag: 'inner' },
    ])
  })

  it('a getter that closes the pipeline: the row being read is refused, not accepted and dropped', async () => {
    const executor = new MockExecutor()
    const b = createBatchSQL({ executor })
    await b.submit(events, { id: 1, tag: 'before' })
    let closing: ReturnType<typeof b.close> | undefined
    const outer = b.submit(events, {
      id: 2,
      get tag() {
        closing = b.close()
        return 'outer'
      },
    })
    await expect(outer).rejects.toBeInstanceOf(ClosedError)
    const result = await closing!
    expect(result).toMatchObject({ accepted: 1, committed: 1, failed: 0 })
    expect(executor.rows('events')).toEqual([{ id: 1, tag: 'before' }])
  })

  it('a getter that closes the pipeline, with the buffer full or through submitAndWait(): refused, never left waiting nor written after close', async () => {
    for (const full of [true, false]) {
      for (const how of ['submit', 'submitAndWait'] as const) {
        const executor = new MockExecutor({ delayMs: 5 }, { concurrency: 1 })
        const b = createBatchSQL({ executor, bufferSize: 1, flushSize: 1, maxInFlightFlushes: 1 })
        // Full: one row running (for 5 ms), one buffered behind it.
        if (full) {
          await b.submit(events, { id: 1, tag: 'a' })
          await b.submit(events, { id: 2, tag: 'b' })
        }
        let closing: ReturnType<typeof b.close> | undefined
        const row = {
          id: 3,
          get tag() {
            closing ??= b.close()
            return 'closer'
          },
        }
        const submitted = how === 'submit' ? b.submit(events, row) : b.submitAndWait(events, row)
        const outcome = await submitted.then(
          () => 'accepted',
          (e: unknown) => e,
        )
        const where = `${how}, buffer ${full ? 'full' : 'with room'}`
        expect(outcome, where).toBeInstanceOf(ClosedError)
        const result = await closing!
        expect(b.stats(), where).toMatchObject({ waitingSubmits: 0, pending: 0 })
        expect(result.accepted, where).toBe(result.committed)
        expect(
          executor.rows('events').map((r) => r.id),
          where,
        ).not.toContain(3)
      }
    }
  })

  it('a submitMany() iterator that closes the pipeline: the call is refused, none of its rows accepted', async () => {
    const executor = new MockExecutor()
    const b = createBatchSQL({ executor })
    function* rows() {
      yield { id: 1, tag: 'a' }
      void b.close()
      yield { id: 2, tag: 'b' }
    }
    const err = await b.submitMany(events, rows()).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ClosedError)
    expect((err as ClosedError).acceptedRows).toBe(0)
    expect(await b.close()).toMatchObject({ accepted: 0, committed: 0 })
    expect(executor.rows('events')).toEqual([])
  })

  it("a metrics reporter that aborts a waiting submit's signal while it is admitted: the submit after it is still admitted", async () => {
    const { processor, executor } = gatedExecutor({ concurrency: 1 })
    const abortA = new AbortController()
    let armed = false
    class AbortingReporter extends NoopMetricsReporter {
      override recordFlush(): void {
        if (armed) {
          armed = false
          abortA.abort(new Error('gave up'))
        }
      }
    }
    const b = createBatchSQL({
      executor,
      flushSize: 1,
      bufferSize: 2,
      maxInFlightFlushes: 4,
      flushInterval: 60_000,
      metrics: new AbortingReporter(),
    })
    // One batch of the table runs (held at the processor), two wait behind it: the buffer is full.
    for (let id = 0; id < 3; id++) await b.submit(events, { id, tag: 'r' })
    const a = b.submitMany(events, [{ id: 10, tag: 'a' }], { signal: abortA.signal })
    let bOutcome: unknown
    const later = b.submit(events, { id: 11, tag: 'b' }).then(
      () => {
        bOutcome = 'accepted'
      },
      (e: unknown) => {
        bOutcome = e
      },
    )
    expect(b.stats().waitingSubmits).toBe(2)
    processor.releaseAll() // row 0 done: row 1 runs, still no room
    await processor.waitFor(2)
    armed = true // A's row is admitted when row 1 is done, and its flush aborts A's signal
    processor.releaseAll()
    const aErr = await a.catch((e: unknown) => e)
    expect(aErr).toBeInstanceOf(AbortedError)
    // B is admitted as room frees. (Taken out with shift(), A's place was gone already and B's
    // went with it: B never settled, not even at close().)
    for (let i = 0; i < 200 && bOutcome === undefined; i++) {
      processor.releaseAll()
      await tick()
    }
    expect(bOutcome).toBe('accepted')
    await later
    // Rows 0-2, A's one row (accepted before its signal fired: `acceptedRows` 1) and B's.
    expect((aErr as AbortedError).acceptedRows).toBe(1)
    expect(await closeReleasing(b, processor)).toMatchObject({ accepted: 5, committed: 5 })
  })

  it('a metrics reporter that closes the pipeline as a flush starts: close() waits for that flush', async () => {
    const executor = new MockExecutor()
    let closing: ReturnType<typeof b.close> | undefined
    class ClosingReporter extends NoopMetricsReporter {
      override recordFlush(): void {
        closing ??= b.close()
      }
    }
    const b = createBatchSQL({ executor, flushSize: 5, metrics: new ClosingReporter() })
    for (let id = 0; id < 5; id++) await b.submit(events, { id, tag: 't' })
    expect(closing).toBeDefined()
    const result = await closing!
    expect(result).toMatchObject({ accepted: 5, committed: 5, failed: 0 })
    expect(executor.rows('events')).toHaveLength(5)
  })
})
