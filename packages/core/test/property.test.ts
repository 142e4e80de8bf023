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

describe('property: schemas of one table keep submit order against each other', () => {
  // Three schemas on one table: two keyed on id (comparable keys), one keyed on name (keys
  // BatchSQL cannot compare with the others: its batches and theirs wait whole).
  const full = defineSchema({
    table: 'users',
    columns: ['id', 'name', 'v'],
    strategy: 'update',
    conflictColumns: ['id'],
  })
  const partial = defineSchema({
    table: 'users',
    columns: ['id', 'v'],
    strategy: 'update',
    conflictColumns: ['id'],
  })
  const byName = defineSchema({
    table: 'users',
    columns: ['name', 'v'],
    strategy: 'update',
    conflictColumns: ['name'],
  })
  const schemas = [full, partial, byName]

  it('a row never starts writing before an earlier row that may touch the same record has finished', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ schema: fc.nat(2), key: fc.nat(3) }), {
          minLength: 1,
          maxLength: 40,
        }),
        fc.integer({ min: 1, max: 6 }),
        fc.array(fc.nat(2), { minLength: 20, maxLength: 20 }),
        async (ops, flushSize, delays) => {
          const events: string[] = []
          const batchOf = new Map<number, number>() // row number -> batch number
          let batches = 0
          const executor = new MockExecutor(
            {
              onBatch: async (batch) => {
                const me = batches++
                for (const r of batch.rows) batchOf.set(Number(r.get('v')), me)
                events.push(`start ${me}`)
                await new Promise((r) => setTimeout(r, delays[me % delays.length]))
                events.push(`finish ${me}`)
              },
            },
            { concurrency: 4 },
          )
          const b = createBatchSQL({
            executor,
            flushSize,
            maxInFlightFlushes: 4,
            flushInterval: 60_000,
          })
          for (const [v, op] of ops.entries()) {
            const s = schemas[op.schema]!
            const row =
              s === byName
                ? { name: op.key, v }
                : s === full
                  ? { id: op.key, name: 'n', v }
                  : { id: op.key, v }
            await b.submit(s, row as never)
          }
          expect((await b.close()).failed).toBe(0)
          const at = (e: string) => events.indexOf(e)
          for (let j = 0; j < ops.length; j++) {
            for (let i = 0; i < j; i++) {
              const [x, y] = [ops[i]!, ops[j]!]
              const comparable = (x.schema === 2) === (y.schema === 2)
              if (comparable && x.key !== y.key) continue
              const [bi, bj] = [batchOf.get(i)!, batchOf.get(j)!]
              if (bi === bj) continue // one batch: its own order (same schema, coalesced in order)
              expect(at(`start ${bj}`), `rows ${i} and ${j}`).toBeGreaterThan(at(`finish ${bi}`))
            }
          }
        },
      ),
      { numRuns: 150 },
    )
  })
})
