import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { defineSchema, FlatBatch, Request } from '../src/index.js'
import { KeyOrderGate } from '../src/key-order.js'

const kv = defineSchema({
  table: 'kv',
  columns: ['k', 'v'],
  strategy: 'replace',
  conflictColumns: ['k'],
})
const rows = (...keys: (string | number)[]) => keys.map((k) => Request.from(kv, { k, v: 1 }))
const settled = async (p: Promise<unknown>) => {
  let done = false
  void p.then(() => {
    done = true
  })
  await new Promise((r) => setImmediate(r))
  return done
}

describe('KeyOrderGate', () => {
  it('reads a flat batch in place: it waits on a shared key and not on a disjoint one', async () => {
    const gate = new KeyOrderGate()
    const flat = (...keys: (string | number)[]) =>
      new FlatBatch(
        kv,
        keys.flatMap((k) => [k, 1]),
      )
    const ints = defineSchema({
      table: 'n',
      columns: ['id', 'v'],
      conflictColumns: ['id'],
      strategy: 'replace',
    })
    const releaseA = await gate.enter(flat('x', 'y'))
    const b = gate.enter({ schema: kv, rows: rows('y') })
    const c = gate.enter(flat('z', 1))
    expect(await settled(b)).toBe(false)
    expect(await settled(c)).toBe(true)
    // Integer keys and a composite of both forms hash the same either way.
    const releaseN = await gate.enter(new FlatBatch(ints, [7, 'a', 8, 'b']))
    const n = gate.enter({ schema: ints, rows: [Request.from(ints, { id: 8, v: 'c' })] })
    const m = gate.enter(new FlatBatch(ints, [9, 'd']))
    expect(await settled(n)).toBe(false)
    expect(await settled(m)).toBe(true)
    releaseN()
    expect(await settled(n)).toBe(true)
    releaseA()
    expect(await settled(b)).toBe(true)
    for (const p of [b, c, n, m]) (await p)()
  })

  it('a batch sharing a key waits for the earlier one; disjoint batches and finished keys do not', async () => {
    const gate = new KeyOrderGate()
    const releaseA = await gate.enter({ schema: kv, rows: rows('x', 'y') })
    const b = gate.enter({ schema: kv, rows: rows('y') })
    const c = gate.enter({ schema: kv, rows: rows('z', 1) }) // the number 1 is not the string "1"
    const d = gate.enter({ schema: kv, rows: rows('1') })
    expect(await settled(b)).toBe(false)
    expect(await settled(c)).toBe(true)
    expect(await settled(d)).toBe(true)
    ;(await c)()
    const e = gate.enter({ schema: kv, rows: rows('z') }) // c finished: its stale entry is ignored
    expect(await settled(e)).toBe(true)
    releaseA()
    expect(await settled(b)).toBe(true)
    ;(await b)()
    ;(await d)()
    ;(await e)()
  })

  it('a key is the same key however its value was given (number, bigint, numeric string)', async () => {
    const ints = defineSchema({
      table: 'ints',
      columns: { id: 'int', v: 'string' },
      strategy: 'update',
      conflictColumns: ['id'],
    })
    const row = (id: number | bigint | string) => Request.from(ints, { id, v: 'x' } as never)
    const gate = new KeyOrderGate()
    for (const [first, later] of [
      [-9_007_199_254_740_991, -9_007_199_254_740_991n],
      [1234, '1234'],
      [0, '-0'],
    ] as const) {
      const release = await gate.enter({ schema: ints, rows: [row(first)] })
      const waiting = gate.enter({ schema: ints, rows: [row(later)] })
      const other = gate.enter({
        schema: ints,
        rows: [row(typeof first === 'number' ? first + 1 : 1)],
      })
      expect(await settled(waiting)).toBe(false)
      expect(await settled(other)).toBe(true)
      release()
      ;(await waiting)()
      ;(await other)()
    }
  })

  it('finished batches are forgotten while another batch stays in flight', async () => {
    const gate = new KeyOrderGate()
    const hold = await gate.enter({ schema: kv, rows: rows('held') })
    for (let n = 0; n < 20; n++) {
      const release = await gate.enter({
        schema: kv,
        rows: rows(...Array.from({ length: 1000 }, (_, i) => `k${n}:${i}`)),
      })
      release()
    }
    const state = (gate as unknown as { schemas: Map<number, unknown[]> }).schemas
    expect(state.get(kv.id)!.length).toBe(1) // only the held batch
    const waiting = gate.enter({ schema: kv, rows: rows('held') })
    expect(await settled(waiting)).toBe(false)
    hold()
    ;(await waiting)()
    expect(state.size).toBe(0) // nothing in flight: the schema's state is dropped
  })

  it('a batch that never overlaps another is never hashed', async () => {
    const gate = new KeyOrderGate()
    const state = (gate as unknown as { schemas: Map<number, { hashes?: Uint32Array }[]> }).schemas
    const first = await gate.enter({ schema: kv, rows: rows('a', 'b') })
    expect(state.get(kv.id)![0]!.hashes).toBeUndefined()
    const second = await gate.enter({ schema: kv, rows: rows('c') })
    expect(state.get(kv.id)!.map((e) => e.hashes?.length)).toEqual([2, 1])
    first()
    second()
  })
})

describe('KeyOrderGate property', () => {
  it('a batch never starts before every earlier batch sharing a key has finished', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.array(fc.oneof(fc.constantFrom('a', 'b', 'c', 'd', 'e', '1'), fc.constantFrom(1, 2)), {
            minLength: 1,
            maxLength: 4,
          }),
          { minLength: 1, maxLength: 25 },
        ),
        fc.array(fc.nat(), { minLength: 50, maxLength: 50 }),
        async (batches, picks) => {
          const gate = new KeyOrderGate()
          const events: string[] = []
          const started = new Map<number, () => void>()
          const finished = new Set<number>()
          batches.forEach((keys, i) => {
            void gate.enter({ schema: kv, rows: rows(...keys) }).then((release) => {
              events.push(`start ${i}`)
              started.set(i, release)
            })
          })
          let p = 0
          while (finished.size < batches.length) {
            await new Promise((r) => setImmediate(r))
            const running = [...started.keys()].filter((i) => !finished.has(i))
            expect(running.length).toBeGreaterThan(0) // no deadlock
            const i = running[picks[p++ % picks.length]! % running.length]!
            finished.add(i)
            events.push(`finish ${i}`)
            started.get(i)!()
          }
          const at = (e: string) => events.indexOf(e)
          for (let j = 0; j < batches.length; j++)
            for (let i = 0; i < j; i++)
              if (batches[i]!.some((k) => batches[j]!.includes(k)))
                expect(at(`start ${j}`)).toBeGreaterThan(at(`finish ${i}`))
        },
      ),
      { numRuns: 200 },
    )
  })
})
