import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { defineSchema, FlatBatch, Request } from '../src/index.js'
import { KeyOrderGate } from '../src/key-order.js'
import { KeyTable } from '../src/key-table.js'

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
  it('releases a waiting batch whose wait callback threw, so later batches do not hang', async () => {
    const gate = new KeyOrderGate(undefined, () => {
      throw new Error('reporter down')
    })
    const releaseA = await gate.enter({ schema: kv, rows: rows('x') })
    const b = gate.enter({ schema: kv, rows: rows('x') })
    const c = gate.enter({ schema: kv, rows: rows('x') })
    releaseA()
    await expect(b).rejects.toThrow('reporter down')
    // c waited for b, which never got a release function: b's entry must be gone all the same.
    await expect(c).rejects.toThrow('reporter down')
    expect(await settled(gate.enter({ schema: kv, rows: rows('x') }))).toBe(true)
  })

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
    const c = gate.enter({ schema: kv, rows: rows('z', 2) })
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

  it('in an untyped (any) key column, every spelling of one number is one key: 1, 1n, "1", " 1.0", 1e0, true', async () => {
    // A numeric column stores them as one row: two keys would let the later batch commit first.
    const anyKey = defineSchema({
      table: 'anykey',
      columns: ['id', 'v'],
      strategy: 'update',
      conflictColumns: ['id'],
    })
    const pair = defineSchema({
      table: 'pair',
      columns: ['a', 'b', 'v'],
      strategy: 'update',
      conflictColumns: ['a', 'b'],
    })
    const one = (id: unknown) => Request.from(anyKey, { id, v: 'x' } as never)
    const two = (a: unknown, b: unknown) => Request.from(pair, { a, b, v: 'x' } as never)
    const gate = new KeyOrderGate()
    const cases: [Request[], Request[], Request[]][] = [
      [[one(1)], [one('1')], [one(2)]],
      [[one('1')], [one(1)], [one('1x')]],
      [[one(1n)], [one(' 1.0')], [one(11)]],
      [[one(10)], [one('1e1')], [one('1e2')]],
      [[one(1.5)], [one('1.50')], [one('15')]],
      [[one(-7)], [one('-7')], [one('7')]],
      [[one(true)], [one(1)], [one(0)]],
      [[one('Ada')], [one('ada')], [one('Ado')]],
      [[two(1, 'k')], [two('1', 'K')], [two(1, 'l')]],
    ]
    for (const [first, later, other] of cases) {
      const release = await gate.enter({ schema: first[0]!.schema, rows: first })
      const waiting = gate.enter({ schema: later[0]!.schema, rows: later })
      const free = gate.enter({ schema: other[0]!.schema, rows: other })
      expect(await settled(waiting), String(first[0]!.values)).toBe(false)
      expect(await settled(free), String(other[0]!.values)).toBe(true)
      release()
      ;(await waiting)()
      ;(await free)()
    }
  })

  it('finished batches and their keys are forgotten while another batch stays in flight', async () => {
    const gate = new KeyOrderGate()
    const state = (
      gate as unknown as {
        scopes: Map<string, { unfinished: Map<number, unknown>; tables: Map<string, KeyTable> }>
      }
    ).scopes
    const hold = await gate.enter({ schema: kv, rows: rows('held') })
    for (let n = 0; n < 20; n++) {
      const release = await gate.enter({
        schema: kv,
        rows: rows(...Array.from({ length: 1000 }, (_, i) => `k${n}:${i}`)),
      })
      release()
    }
    expect(state.get(kv.orderScope)!.unfinished.size).toBe(1) // only the held batch
    expect(state.get(kv.orderScope)!.tables.get(kv.keySignature)!.size).toBe(1) // and its one key
    const waiting = gate.enter({ schema: kv, rows: rows('held') })
    expect(await settled(waiting)).toBe(false)
    hold()
    ;(await waiting)()
    expect(state.size).toBe(0) // nothing in flight: the scope's state is dropped
  })

  it('a batch alone in the gate is not hashed; once another enters, both are', async () => {
    const gate = new KeyOrderGate()
    const state = (
      gate as unknown as {
        scopes: Map<string, { unfinished: Map<number, { hashes?: Uint32Array }> }>
      }
    ).scopes
    const entries = () => [...state.get(kv.orderScope)!.unfinished.values()]
    const first = await gate.enter({ schema: kv, rows: rows('a', 'b') })
    expect(entries()[0]!.hashes).toBeUndefined()
    const second = await gate.enter({ schema: kv, rows: rows('c') })
    expect(entries().map((e) => e.hashes?.length)).toEqual([2, 1])
    first()
    second()
  })

  it('an emptied table is reused by the next schema, still ordering; a grown one is let go', async () => {
    const gate = new KeyOrderGate()
    const internals = gate as unknown as {
      scopes: Map<string, { tables: Map<string, KeyTable> }>
      spare: KeyTable | undefined
    }
    const tableOf = (s: typeof kv) =>
      internals.scopes.get(s.orderScope)!.tables.get(s.keySignature)!
    const other = defineSchema({
      table: 'other',
      columns: ['k', 'v'],
      strategy: 'replace',
      conflictColumns: ['k'],
    })
    const a = await gate.enter({ schema: kv, rows: rows('x') })
    const b = gate.enter({ schema: kv, rows: rows('x') })
    const table = tableOf(kv)
    a()
    ;(await b)()
    expect(internals.spare).toBe(table)
    // The next schema takes it, and its batches still wait on a shared key.
    const c = await gate.enter({
      schema: other,
      rows: [Request.from(other, { k: 'x', v: 1 })],
    })
    const d = gate.enter({ schema: other, rows: [Request.from(other, { k: 'x', v: 2 })] })
    // (Taken once a second batch makes the scope compare keys.)
    expect(tableOf(other)).toBe(table)
    expect(internals.spare).toBeUndefined()
    expect(await settled(d)).toBe(false)
    c()
    ;(await d)()
    // A table grown for a burst of 100,000 keys is not kept.
    const big = await gate.enter({
      schema: kv,
      rows: rows(...Array.from({ length: 100_000 }, (_, i) => i)),
    })
    const e = gate.enter({ schema: kv, rows: rows('y') })
    expect(tableOf(kv).capacity).toBeGreaterThan(1 << 16)
    big()
    ;(await e)()
    expect(internals.spare).toBeUndefined()
  })

  it('a batch waits for each earlier batch it shares a key with, not only the last one', async () => {
    // c shares "x" with a and "y" with b; b shares nothing with a. c must wait for both.
    const gate = new KeyOrderGate()
    const releaseA = await gate.enter({ schema: kv, rows: rows('x') })
    const releaseB = await gate.enter({ schema: kv, rows: rows('y') })
    const c = gate.enter({ schema: kv, rows: rows('x', 'y') })
    releaseB()
    expect(await settled(c)).toBe(false)
    releaseA()
    expect(await settled(c)).toBe(true)
    ;(await c)()
  })
})

describe('KeyTable', () => {
  it('behaves as a map from hash to owner under claims and releases, through growth', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.boolean(),
            // Few distinct hashes, 0 among them (stored as 1), and clustered home slots.
            fc.oneof(
              fc.integer({ min: 0, max: 40 }),
              fc.integer({ min: 0, max: 40 }).map((x) => x * 2 ** 26),
            ),
            fc.integer({ min: 1, max: 5 }),
          ),
          { maxLength: 300 },
        ),
        (ops) => {
          const table = new KeyTable(16)
          const model = new Map<number, number>()
          for (const [isClaim, hash, owner] of ops) {
            const key = hash >>> 0 || 1
            if (isClaim) {
              expect(table.claim(hash, owner)).toBe(model.get(key) ?? 0)
              model.set(key, owner)
            } else {
              table.release(hash, owner)
              if (model.get(key) === owner) model.delete(key)
            }
            expect(table.size).toBe(model.size)
          }
          // Every key the model holds is found with its owner; released ones are gone.
          for (const [key, owner] of model) expect(table.claim(key, owner)).toBe(owner)
        },
      ),
      { numRuns: 300 },
    )
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
