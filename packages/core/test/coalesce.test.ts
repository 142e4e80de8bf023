import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { respellKey } from '../src/values.js'
import {
  type AnyRow,
  coalesce,
  defineSchema,
  FlatBatch,
  foldIntegerKeys,
  type IntegerKeyOrder,
  integerKeyOrder,
  KeyOrderGateForTest,
  keyOrder,
  keyOrderWithRounds,
  keyPart,
  Request,
  rowKey,
  type Schema,
} from './exports.js'

const s = defineSchema({
  table: 't',
  columns: { id: 'int', name: 'string', score: 'int' },
  strategy: 'update',
  conflictColumns: ['id'],
})
const req = (row: Record<string, unknown>) => Request.from(s, row as never)

describe('coalesce', () => {
  it('merges decimal keys by exact value, never through a double', () => {
    const prices = defineSchema({
      table: 'p',
      columns: { price: 'decimal', qty: 'int' },
      strategy: 'update',
      conflictColumns: ['price'],
    })
    const keys = [
      '0.1000000000000000001',
      '0.1',
      '0.10',
      '+1.5',
      '15e-1',
      1.5,
      '-0',
      '0.000',
      '9007199254740993.5',
      '9007199254740992.5',
      '1e999999',
    ]
    const c = coalesce(
      keys.map((price, qty) => Request.from(prices, { price, qty } as never)),
      prices,
    )
    // One row per distinct value: 0.1000000000000000001, 0.1 (x2), 1.5 (x3), 0 (x2), and
    // the last three, each distinct.
    expect(c.rows.map((r) => r.toObject().qty)).toEqual([0, 2, 5, 7, 8, 9, 10])
    expect(c.duplicates).toBe(4)
  })

  it('keeps last per column; unset columns keep the earlier value', () => {
    const rows = [
      req({ id: 1, name: 'a', score: 1 }),
      req({ id: 2, name: 'b' }),
      req({ id: 1, score: 5 }),
    ]
    const c = coalesce(rows, s)
    expect(c.duplicates).toBe(1)
    expect(c.rows.map((r) => r.toObject())).toEqual([
      { id: 1, name: 'a', score: 5 },
      { id: 2, name: 'b' },
    ])
    expect(c.sources).toEqual([[0, 2], [1]])
    expect(c.keys).toEqual(['n:1', 'n:2'])
    // inputs untouched
    expect(rows[0]!.toObject()).toEqual({ id: 1, name: 'a', score: 1 })
  })

  it('wholeRows: keep-last keeps the last row as it is (a replace that resets unset columns)', () => {
    const rows = [
      req({ id: 1, name: 'a', score: 1 }),
      req({ id: 2, name: 'b' }),
      req({ id: 1, score: 5 }),
    ]
    const c = coalesce(rows, s, 'last', true)
    expect(c.rows.map((r) => r.toObject())).toEqual([
      { id: 1, score: 5 },
      { id: 2, name: 'b' },
    ])
    expect(c.sources).toEqual([[0, 2], [1]])
  })

  it('keep first drops later rows', () => {
    const c = coalesce([req({ id: 1, name: 'a' }), req({ id: 1, name: 'b', score: 2 })], s, 'first')
    expect(c.rows.map((r) => r.toObject())).toEqual([{ id: 1, name: 'a' }])
  })

  it('normalises keys: 1, 1n and "1" are one key in an integer column', () => {
    const c = coalesce(
      [req({ id: 1, name: 'a' }), req({ id: 1n, name: 'b' }), req({ id: '1', name: 'c' })],
      s,
    )
    expect(c.rows).toHaveLength(1)
    expect(c.rows[0]!.get('name')).toBe('c')
    expect(c.keys).toEqual([rowKey(c.rows[0]!.values, s.conflictIndexes, s.types)])
  })

  it('never merges null keys', () => {
    const c = coalesce(
      [req({ id: null, name: 'a' }), req({ id: null, name: 'b' }), req({ name: 'c' })],
      s,
    )
    expect(c.rows).toHaveLength(3)
    expect(c.duplicates).toBe(0)
    expect(c.keys).toEqual([undefined, undefined, undefined])
  })

  it('composite keys do not collide across part boundaries', () => {
    const k = defineSchema({
      table: 'k',
      columns: ['a', 'b'],
      strategy: 'ignore',
      conflictColumns: ['a', 'b'],
    })
    const r1 = Request.from(k, { a: 'x:y', b: 'z' })
    const r2 = Request.from(k, { a: 'x', b: 'y:z' })
    expect(rowKey(r1.values, k.conflictIndexes, k.types)).not.toBe(
      rowKey(r2.values, k.conflictIndexes, k.types),
    )
    expect(coalesce([r1, r2], k).rows).toHaveLength(2)
  })

  it('strings and numbers differ in an untyped column', () => {
    const k = defineSchema({
      table: 'k',
      columns: ['a'],
      strategy: 'ignore',
      conflictColumns: ['a'],
    })
    expect(coalesce([Request.from(k, { a: 1 }), Request.from(k, { a: '1' })], k).rows).toHaveLength(
      2,
    )
  })
})

describe('key order', () => {
  it('integerKeyOrder sorts distinct safe-integer keys by value and declines everything else', () => {
    expect(
      integerKeyOrder({ schema: s, rows: [req({ id: 10 }), req({ id: -3 }), req({ id: 9 })] }),
    ).toEqual({ order: [1, 2, 0] })
    // A repeated key (-0 is 0) comes with its runs; a bigint key takes rowKey().
    expect(
      integerKeyOrder({ schema: s, rows: [req({ id: 0 }), req({ id: 5 }), req({ id: -0 })] }),
    ).toEqual({ order: [0, 2, 1], runs: [0, 2, 3] })
    expect(integerKeyOrder({ schema: s, rows: [req({ id: 1 }), req({ id: 2n })] })).toBeUndefined()
    expect(
      integerKeyOrder({ schema: s, rows: [req({ id: 1 }), req({ name: 'no key' })] }),
    ).toBeUndefined()
    const str = defineSchema({
      table: 't',
      columns: { k: 'string' },
      strategy: 'ignore',
      conflictColumns: ['k'],
    })
    expect(integerKeyOrder({ schema: str, rows: [Request.from(str, { k: '1' })] })).toBeUndefined()
  })

  it('integerKeyOrder is a stable sort by key on each of its paths', () => {
    // The paths: already ascending; two interleaved ascending sequences (merged); keys close
    // enough to pack with their index (native sort); keys too far apart (comparator).
    const ascendingWithUpdates = fc
      .array(fc.tuple(fc.integer({ min: 1, max: 5 }), fc.nat(5), fc.nat(30)), {
        minLength: 2,
        maxLength: 60,
        size: 'max', // fast-check's default size stays near 10 rows: too few to interleave
      })
      .map((steps) => {
        const keys: number[] = []
        let next = 0
        // About one row in six repeats an earlier key, as updates among new rows do.
        for (const [step, update, back] of steps) {
          next += step
          keys.push(
            update === 0 && keys.length > 0 ? keys[Math.max(0, keys.length - 1 - back)]! : next,
          )
        }
        return keys
      })
    const near = fc.array(fc.integer({ min: -50, max: 50 }), { minLength: 2, maxLength: 40 })
    const far = fc.array(
      fc.constantFrom(Number.MIN_SAFE_INTEGER, -1, -0, 0, 7, Number.MAX_SAFE_INTEGER),
      { minLength: 2, maxLength: 40 },
    )
    fc.assert(
      fc.property(fc.oneof(ascendingWithUpdates, near, far), (keys) => {
        const batch = new FlatBatch(
          s,
          keys.flatMap((id) => [id, 'x', 1]),
        )
        const keyed = integerKeyOrder(batch)!
        const expected = keys.map((_, i) => i).sort((a, b) => keys[a]! - keys[b]! || a - b)
        expect(keyed.order).toEqual(expected)
        const starts = expected.flatMap((i, n) =>
          n > 0 && keys[i] === keys[expected[n - 1]!] ? [] : [n],
        )
        expect(keyed.runs).toEqual(
          starts.length === keys.length ? undefined : [...starts, keys.length],
        )
      }),
    )
  })

  it('foldIntegerKeys is coalesce() then keyOrder(), for every dedupe mode, flat or not', () => {
    const cell = fc.oneof(fc.constant(undefined), fc.constant(null), fc.integer({ min: 0, max: 9 }))
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: -4, max: 4 }), cell, cell), {
          minLength: 2,
          maxLength: 25,
        }),
        fc.constantFrom('last' as const, 'first' as const),
        fc.boolean(),
        fc.boolean(),
        (tuples, mode, asFlat, wholeRows) => {
          const rows = tuples.map(([id, name, score]) =>
            req({ id, name: name === null ? null : name?.toString(), score }),
          )
          const batch = asFlat
            ? new FlatBatch(
                s,
                rows.flatMap((r) => r.values),
              )
            : { schema: s, rows }
          const keyed = integerKeyOrder(batch)!
          fc.pre(keyed.runs !== undefined)
          const folded = foldIntegerKeys(batch, keyed as Required<IntegerKeyOrder>, mode, wholeRows)
          const merged = coalesce(rows, s, mode, wholeRows)
          const order = keyOrder(merged.keys)
          const width = s.columns.length
          expect(
            Array.from({ length: folded.sources.length }, (_, r) =>
              folded.values.slice(r * width, (r + 1) * width),
            ),
          ).toEqual(order.map((i) => merged.rows[i]!.values))
          expect(folded.sources.map((x) => (typeof x === 'number' ? [x] : x))).toEqual(
            order.map((i) => merged.sources[i]),
          )
          expect(folded.duplicates).toBe(merged.duplicates)
        },
      ),
    )
  })

  it('keyOrder: integer keys by value, then other keys as strings, then null keys, ties in submit order', () => {
    const keys = [
      's:b',
      'n:10',
      undefined,
      'n:9',
      'n:10',
      's:a',
      'n:99999999999999999999',
      undefined,
    ]
    expect(keyOrder(keys)).toEqual([3, 1, 4, 6, 5, 0, 2, 7])
  })

  it('respellKey() of a rowKey() is the rowKey() built with the same spelling', () => {
    const spell = (part: string) => `<${part.toUpperCase()}|>`
    const value = fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.boolean())
    fc.assert(
      fc.property(fc.array(value, { minLength: 1, maxLength: 4 }), (values) => {
        const idx = values.map((_, i) => i)
        const types = values.map(() => 'any' as const)
        const key = rowKey(values as never, idx, types)
        fc.pre(key !== undefined)
        expect(respellKey(key!, spell)).toBe(rowKey(values as never, idx, types, 0, spell))
      }),
    )
  })

  it('keyOrder: keys the database may store as one row are a tie, kept in submit order', () => {
    // '5' and 5n in an untyped column; 'ABC' and 'abc' under a case-blind collation; true and
    // 1; and the same in a part of a composite key. Sorted apart, the earlier could land last.
    const untyped = (v: unknown) => keyPart(v as never, 'any')
    expect(keyOrder([untyped('5'), untyped(5n), untyped(4)])).toEqual([2, 0, 1])
    expect(keyOrder([untyped(5n), untyped('5')])).toEqual([0, 1])
    expect(keyOrder([untyped('abc'), untyped('ABC'), untyped('abd')])).toEqual([0, 1, 2])
    expect(keyOrder([untyped('ABC'), untyped('abc')])).toEqual([0, 1])
    // Letters without a decomposition that collations still take for others: MariaDB's
    // default takes ß for s, its Unicode collations and PostgreSQL's citext for ss; Ł for L;
    // zero-width characters are ignored. (The mysql package checks every group MariaDB makes.)
    for (const tie of [
      ['weiß', 'weis', 'weiss', 'WEISS'],
      ['STRAẞE', 'straße', 'strasse'],
      ['Łódź', 'Lodz'],
      ['Æsir', 'aesir'],
      ['a\u200bb', 'ab'],
    ]) {
      const { rounds } = keyOrderWithRounds(tie.map(untyped))
      expect(rounds?.toSorted()).toEqual(tie.map((_, i) => i))
    }
    // ASCII ids without capitals, spaces or a double s are taken as they are.
    expect(keyOrderWithRounds(['ab', 'a-b', 'a_b', 'abs', 'as'].map(untyped)).rounds).toBe(
      undefined,
    )
    expect(keyOrder([untyped(1), untyped(true)])).toEqual([0, 1])
    expect(keyOrder([untyped(true), untyped(1)])).toEqual([0, 1])
    const pair = (a: unknown, b: unknown) =>
      rowKey([a as never, b as never], [0, 1], ['any', 'any'])
    expect(keyOrder([pair('x', '7'), pair('X', 7), pair('a', 9)])).toEqual([2, 0, 1])
    expect(keyOrder([pair('X', 7), pair('x', '7')])).toEqual([0, 1])
    // A merged row stands where the row whose values it keeps was submitted (`ties`).
    expect(keyOrder([untyped('5'), untyped(5n)], [2, 1])).toEqual([1, 0])
  })

  it('keyOrderWithRounds numbers the rows of a tie in submit order; none without a tie', () => {
    const untyped = (v: unknown) => keyPart(v as never, 'any')
    expect(keyOrderWithRounds([untyped(2), untyped(1), undefined, undefined]).rounds).toBe(
      undefined,
    )
    const tied = keyOrderWithRounds([
      untyped('ADA'),
      untyped(9),
      untyped('ada'),
      untyped('Ada'),
      untyped('5'),
      untyped(5n),
    ])
    expect(tied.order).toEqual([4, 5, 1, 0, 2, 3])
    expect(tied.rounds).toEqual([0, 1, 0, 0, 1, 2])
  })

  it('coalesce inTieOrder merges a key only with the latest row of its tie, never across another spelling', () => {
    const any = defineSchema({
      table: 't',
      columns: ['id', 'v'],
      strategy: 'update',
      conflictColumns: ['id'],
    })
    const rows = [7, '7', 7, 7, 8, '8'].map((id, v) => Request.from(any, { id, v }))
    // By key alone, both 7s merge past the '7' between them.
    expect(coalesce(rows, any).sources).toEqual([[0, 2, 3], [1], [4], [5]])
    const inOrder = coalesce(rows, any, 'last', false, any.types, true)
    expect(inOrder.sources).toEqual([[0], [1], [2, 3], [4], [5]])
    expect(inOrder.rows.map((r) => r.values[1])).toEqual([0, 1, 3, 4, 5])
    expect(inOrder.duplicates).toBe(1)
  })
})

describe('KeyOrderGate', () => {
  it('a batch waits for an earlier batch sharing a key, not for a disjoint one', async () => {
    const gate = new KeyOrderGateForTest()
    const r1 = await gate.enter({ schema: s, rows: [req({ id: 1 }), req({ id: 2 })] })
    let secondIn = false
    const p2 = gate.enter({ schema: s, rows: [req({ id: 2 }), req({ id: 3 })] }).then((rel) => {
      secondIn = true
      return rel
    })
    const r3 = await gate.enter({ schema: s, rows: [req({ id: 9 })] })
    await new Promise((r) => setImmediate(r))
    expect(secondIn).toBe(false)
    r1()
    const r2 = await p2
    expect(secondIn).toBe(true)
    r2()
    r3()
  })

  it('text keys a collation may hold as one (case, accents, spaces) are ordered as one; others are not', async () => {
    // MariaDB's default collation stores 'Ada' and 'ada ' as one row: a later batch with one
    // spelling must not commit before an earlier one with the other (the older write would
    // win). Over-folding only costs a wait.
    const byName = defineSchema({
      table: 'u',
      columns: { name: 'string', v: 'int' },
      strategy: 'update',
      conflictColumns: ['name'],
    })
    const composite = defineSchema({
      table: 'c',
      columns: { a: 'string', b: 'any', v: 'int' },
      strategy: 'update',
      conflictColumns: ['a', 'b'],
    })
    const cases: [Schema, AnyRow, AnyRow, boolean][] = [
      [byName, { name: 'Ada' }, { name: 'ada ' }, true],
      [byName, { name: 'José' }, { name: 'JOSE' }, true],
      [byName, { name: 'ada' }, { name: 'bob' }, false],
      [composite, { a: 'X', b: 'Éa' }, { a: 'x ', b: 'ea' }, true],
      [composite, { a: 'x', b: 'a' }, { a: 'x', b: 'b' }, false],
    ]
    for (const [schema, first, second, ordered] of cases) {
      const gate = new KeyOrderGateForTest()
      const r1 = await gate.enter({
        schema,
        rows: [Request.from(schema, first)],
      })
      let secondIn = false
      const p2 = gate.enter({ schema, rows: [Request.from(schema, second)] }).then((rel) => {
        secondIn = true
        return rel
      })
      await new Promise((r) => setImmediate(r))
      expect(secondIn, JSON.stringify([first, second])).toBe(!ordered)
      r1()
      ;(await p2)()
    }
  })
})
