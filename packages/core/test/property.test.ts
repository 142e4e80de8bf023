import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { type BatchFailure, createBatchSQL, defineSchema } from '../src/index.js'
import { MockExecutor } from '../src/testing.js'

const a = defineSchema({ table: 'a', columns: ['id'] })
const b = defineSchema({ table: 'b', columns: ['id'], strategy: 'ignore', conflictColumns: ['id'] })
const retryable = Object.assign(new Error('transient'), { code: 'ECONNRESET' })

describe('property: every accepted row is delivered exactly once or reported', () => {
  it('holds under random sizes, intervals, producers and injected failures', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          rows: fc.integer({ min: 1, max: 400 }),
          producers: fc.integer({ min: 1, max: 6 }),
          flushSize: fc.integer({ min: 1, max: 50 }),
          bufferExtra: fc.integer({ min: 0, max: 100 }),
          flushInterval: fc.integer({ min: 1, max: 5 }),
          concurrency: fc.integer({ min: 1, max: 4 }),
          maxAttempts: fc.integer({ min: 1, max: 3 }),
          seed: fc.integer(),
          failRate: fc.double({ min: 0, max: 0.5, noNaN: true }),
          rowFailRate: fc.double({ min: 0, max: 0.3, noNaN: true }),
        }),
        async (p) => {
          let state = p.seed >>> 0 || 1
          const rand = () => {
            state ^= state << 13
            state ^= state >>> 17
            state ^= state << 5
            return (state >>> 0) / 2 ** 32
          }
          const executor = new MockExecutor(
            {
              onBatch: (batch) => {
                if (rand() < p.failRate) throw rand() < 0.5 ? retryable : new Error('permanent')
                const failures = batch.rows.flatMap((_, index) =>
                  rand() < p.rowFailRate
                    ? [{ index, error: rand() < 0.5 ? retryable : new Error('bad row') }]
                    : [],
                )
                return { failures }
              },
            },
            {
              concurrency: p.concurrency,
              retry: { maxAttempts: p.maxAttempts, initialDelayMs: 0, maxDelayMs: 1 },
            },
          )
          const failures: BatchFailure[] = []
          const pipe = createBatchSQL({
            executor,
            flushSize: p.flushSize,
            bufferSize: p.flushSize + p.bufferExtra,
            flushInterval: p.flushInterval,
            onError: (f) => failures.push(f),
          })
          const per = Math.ceil(p.rows / p.producers)
          await Promise.all(
            Array.from({ length: p.producers }, async (_, w) => {
              for (let i = 0; i < per; i++) {
                const id = w * per + i
                await pipe.submit(id % 3 === 0 ? b : a, { id })
              }
            }),
          )
          const result = await pipe.close()
          const written = executor.rows().map((r) => r.id as number)
          const reported = failures.flatMap((f) => f.rows.map((r) => r.get('id') as number))
          const all = [...written, ...reported].sort((x, y) => x - y)
          expect(all).toEqual(Array.from({ length: per * p.producers }, (_, i) => i))
          expect(result.committed).toBe(written.length)
          expect(result.failed).toBe(reported.length)
        },
      ),
      { numRuns: 60 },
    )
  })
})
