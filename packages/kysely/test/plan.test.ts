import { defineSchema, FlatBatch, Request } from '@batchsql/core'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { chunkRows, rowsPerChunk } from '../src/chunks.js'
import { type PlannedGroup, planBatch, rowAt, sourcesOf, subPlan } from '../src/plan.js'
import { UNSET } from '../src/unset.js'

const rowsOf = (g: PlannedGroup) => g.sources.map((_, i) => rowAt(g, i))

import { planningAdapter } from './fake-adapter.js'

const upsertDefinition = {
  table: 't',
  columns: { id: 'int', a: 'string', b: 'string' },
  strategy: 'update',
  conflictColumns: ['id'],
} as const
const upsert = defineSchema(upsertDefinition)
const plain = defineSchema({ table: 't', columns: { id: 'int', a: 'string', b: 'string' } })
const rows = (schema: typeof plain, list: Record<string, unknown>[]) =>
  list.map((r) => Request.from(schema, r as never))

describe('batch plan', () => {
  it('groups rows by the columns they set, so unset columns are never written; rows not merged by key keep their order', () => {
    const list = [
      { id: 1, a: 'x' },
      { id: 2, a: 'y', b: 'z' },
      { id: 3, a: 'w' },
    ]
    const shapes = (schema: typeof plain) =>
      planBatch({ schema, rows: rows(schema, list) }, planningAdapter()).groups.map((g) => [
        g.shape.columns,
        rowsOf(g),
      ])
    // Merged by key: no two rows of a key remain, so one statement per column set.
    expect(shapes(upsert)).toEqual([
      [
        ['id', 'a'],
        [
          [1, 'x'],
          [3, 'w'],
        ],
      ],
      [['id', 'a', 'b'], [[2, 'y', 'z']]],
    ])
    // No conflict columns: the rows may still collide in the table, so they keep submit
    // order, a statement per run of one column set.
    expect(shapes(plain)).toEqual([
      [['id', 'a'], [[1, 'x']]],
      [['id', 'a', 'b'], [[2, 'y', 'z']]],
      [['id', 'a'], [[3, 'w']]],
    ])
  })

  it('rows that tie on a key go to rounds only when they set different columns', () => {
    const untyped = defineSchema({
      table: 't',
      columns: ['k', 'a', 'b'],
      strategy: 'update',
      conflictColumns: ['k'],
    })
    const plan = (list: Record<string, unknown>[]) =>
      planBatch(
        { schema: untyped, rows: list.map((r) => Request.from(untyped, r)) },
        planningAdapter(),
      ).groups.map((g) =>
        g.sources.map((s) => (typeof s === 'number' ? s : s.length === 1 ? s[0] : s.join('+'))),
      )
    // 'A' and 'a' alternating, every column set (a case-sensitive column keeps them apart):
    // one statement, in key order and, within the tie, submit order (not one per row).
    const alternating = Array.from({ length: 1000 }, (_, i) => ({
      k: i % 2 === 0 ? 'A' : 'a',
      a: `v${i}`,
      b: 'x',
    }))
    const one = plan(alternating)
    expect(one).toHaveLength(1)
    expect(one[0]).toHaveLength(1000)
    // A tie whose rows set different columns: the later row's statement runs after the
    // earlier's, whatever other rows set (row 0 sets what the later 'K' sets).
    expect(
      plan([
        { k: 'a', a: '0' },
        { k: 'k', a: '1', b: '1' },
        { k: 'K', a: '2' },
        { k: 'z', a: '3', b: '3' },
      ]),
    ).toEqual([[0], [1, 3], [2]])
  })

  it('where VALUES take DEFAULT, rows kept in order that set different columns are one statement, DEFAULT for what a row left out; never for an update', () => {
    const list = [
      { id: 1, a: 'x' },
      { id: 2, a: 'y', b: 'z' },
      { id: 3, b: 'w' },
    ]
    const adapter = planningAdapter({ valuesTakeDefault: true })
    const plan = planBatch({ schema: plain, rows: rows(plain, list) }, adapter)
    expect(plan.groups.map((g) => [g.shape.columns, rowsOf(g), g.defaults])).toEqual([
      [
        ['id', 'a', 'b'],
        [
          [1, 'x', UNSET],
          [2, 'y', 'z'],
          [3, UNSET, 'w'],
        ],
        true,
      ],
    ])
    expect(plan.groups[0]!.sources).toEqual([0, 1, 2])
    // One column set: no DEFAULT needed, the usual statement (its text is cached).
    const same = planBatch({ schema: plain, rows: rows(plain, list.slice(0, 1)) }, adapter)
    expect(same.groups.map((g) => [g.shape.columns, g.defaults])).toEqual([
      [['id', 'a'], undefined],
    ])
    // An update writes EXCLUDED values: DEFAULT would overwrite a column the row left out.
    const keep = defineSchema({ ...upsertDefinition, dedupe: 'none' })
    const upd = planBatch({ schema: keep, rows: rows(keep, list) }, adapter)
    expect(upd.groups.map((g) => g.shape.columns)).toEqual([
      ['id', 'a'],
      ['id', 'a', 'b'],
      ['id', 'b'],
    ])
  })

  it('update columns of a group are the update columns it sets', () => {
    const plan = planBatch(
      { schema: upsert, rows: rows(upsert, [{ id: 1, b: 'x' }]) },
      planningAdapter(),
    )
    expect(plan.groups[0]!.shape.updateColumns).toEqual(['b'])
  })

  it('orders upserts by conflict key, keeps insert order for plain inserts', () => {
    const list = [
      { id: 3, a: 'c' },
      { id: 1, a: 'a' },
      { id: 2, a: 'b' },
    ]
    const up = planBatch({ schema: upsert, rows: rows(upsert, list) }, planningAdapter())
    expect(rowsOf(up.groups[0]!).map((r) => r[0])).toEqual([1, 2, 3])
    const ins = planBatch({ schema: plain, rows: rows(plain, list) }, planningAdapter())
    expect(rowsOf(ins.groups[0]!).map((r) => r[0])).toEqual([3, 1, 2])
  })

  it('binds a buffered upsert batch as its rows in key order, without converting values', () => {
    const list = [
      { id: 3, a: 'c', b: 'z' },
      { id: 1, a: 'a', b: 'x' },
      { id: 2, a: 'b', b: 'y' },
    ]
    const flat = new FlatBatch(
      upsert,
      rows(upsert, list).flatMap((r) => r.values),
    )
    const seen: unknown[] = []
    const adapter = planningAdapter({
      toDriverValue: (v) => {
        seen.push(v)
        return v
      },
      passesThrough: () => true,
    })
    const plan = planBatch(flat, adapter)
    expect(plan.groups).toHaveLength(1)
    expect(rowsOf(plan.groups[0]!)).toEqual([
      [1, 'a', 'x'],
      [2, 'b', 'y'],
      [3, 'c', 'z'],
    ])
    expect(plan.groups[0]!.sources).toEqual([1, 2, 0])
    expect(seen).toEqual([])
    // The buffered array itself is left as submitted.
    expect(flat.values.slice(0, 3)).toEqual([3, 'c', 'z'])
  })

  it('orders integer keys by value, whether or not the batch needed coalescing', () => {
    // 9 < 10 < 100 as numbers, not as strings; the batch with a repeated key takes the
    // coalescing path and must come out in the same order as the one without.
    const ids = [100, 10, 9, 'x']
    const mixed = defineSchema({
      table: 't',
      columns: { id: 'any', a: 'string' },
      strategy: 'update',
      conflictColumns: ['id'],
    })
    const order = (list: (number | string | null)[]) =>
      rowsOf(
        planBatch(
          { schema: mixed, rows: list.map((id, i) => Request.from(mixed, { id, a: `r${i}` })) },
          planningAdapter(),
        ).groups[0]!,
      ).map((r) => r[0])
    expect(order([100, 10, 9])).toEqual([9, 10, 100])
    expect(order([100, 10, 9, 10])).toEqual([9, 10, 100])
    // A string key goes after the integer keys, a null key last.
    expect(order([...ids, null])).toEqual([9, 10, 100, 'x', null])
    expect(order([...ids, null, 9])).toEqual([9, 10, 100, 'x', null])
  })

  it('random integer keys: the plan is the key-sorted, coalesced batch', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: -50, max: 50 }), { minLength: 2, maxLength: 40 }),
        (ids) => {
          const plan = planBatch(
            {
              schema: upsert,
              rows: rows(
                upsert,
                ids.map((id, i) => ({ id, a: `r${i}` })),
              ),
            },
            planningAdapter(),
          )
          const g = plan.groups[0]!
          const distinct = [...new Set(ids.map((id) => id + 0))].sort((a, b) => a - b)
          expect(rowsOf(g).map((r) => r[0])).toEqual(distinct)
          // Keep-last: each kept row carries the value of the last batch row with its key.
          rowsOf(g).forEach((r, i) => {
            const last = ids.map((id) => id + 0).lastIndexOf(r[0] as number)
            expect(r[1]).toBe(`r${last}`)
            expect(Math.max(...sourcesOf(g, i))).toBe(last)
          })
          expect(plan.duplicates).toBe(ids.length - distinct.length)
        },
      ),
    )
  })

  it('maps every merged row back to the batch rows it stands for', () => {
    const plan = planBatch(
      {
        schema: upsert,
        rows: rows(upsert, [
          { id: 2, a: 'x' },
          { id: 1, a: 'y' },
          { id: 2, a: 'z' },
        ]),
      },
      planningAdapter(),
    )
    expect(plan.duplicates).toBe(1)
    expect(rowsOf(plan.groups[0]!).map((r, i) => [r, sourcesOf(plan.groups[0]!, i)])).toEqual([
      [[1, 'y'], [1]],
      [
        [2, 'z'],
        [0, 2],
      ],
    ])
  })

  it('a flat batch (rows buffered as one array) plans exactly like the same rows as Requests', () => {
    const schemas = {
      plain,
      upsert,
      ignore: defineSchema({
        table: 't',
        columns: { id: 'any', a: 'string', b: 'json' },
        strategy: 'ignore',
        conflictColumns: ['id'],
      }),
    }
    const value = fc.oneof(
      fc.constant(undefined),
      fc.constant(null),
      fc.string({ maxLength: 3 }),
      fc.integer({ min: -3, max: 3 }),
      fc.boolean(),
    )
    fc.assert(
      fc.property(
        fc.constantFrom(...(Object.keys(schemas) as (keyof typeof schemas)[])),
        fc.array(fc.tuple(fc.option(fc.integer({ min: 0, max: 6 })), value, value), {
          minLength: 1,
          maxLength: 30,
        }),
        fc.boolean(),
        (which, tuples, passes) => {
          const schema = schemas[which] as typeof plain
          // Values the schema accepts: strings in string columns, anything in the others.
          const objects = tuples
            .map(([id, a, b]) => ({
              id: id ?? undefined,
              a: typeof a === 'string' || a === null ? a : undefined,
              b: which === 'ignore' ? b : typeof b === 'string' ? b : undefined,
            }))
            .filter((r) => Object.values(r).some((v) => v !== undefined))
          fc.pre(objects.length > 0)
          const reqs = rows(schema, objects)
          const flat = new FlatBatch(
            schema,
            reqs.flatMap((r) => r.values),
          )
          const adapter = planningAdapter({
            toDriverValue: (v) => (typeof v === 'boolean' ? Number(v) : v),
            passesThrough: () => passes,
          })
          const fromRows = planBatch({ schema, rows: reqs }, adapter)
          const fromFlat = planBatch(flat, adapter)
          expect(fromFlat).toEqual(fromRows)
          // A plain insert reads the flat array in place: it never builds the Request objects
          // (only coalescing conflict keys needs them).
          const built = (flat as unknown as { built?: unknown }).built !== undefined
          if (which === 'plain') expect(built).toBe(false)
        },
      ),
    )
  })

  it('converts values with the adapter', () => {
    const plan = planBatch(
      { schema: plain, rows: rows(plain, [{ id: 1, a: 'x' }]) },
      planningAdapter({ toDriverValue: (v) => `<${String(v)}>` }),
    )
    expect(rowsOf(plan.groups[0]!)[0]).toEqual(['<1>', '<x>'])
  })
})

describe('chunking', () => {
  const group = (n: number, width = 3, value: (i: number) => unknown = (i) => `v${i}`) => ({
    width,
    values: Array.from({ length: n * width }, (_, i) => value(Math.floor(i / width))),
    sources: Array.from({ length: n }, (_, i) => [i]),
  })
  const sizes = (chunks: { start: number; end: number }[]) => chunks.map((c) => c.end - c.start)

  it('keeps each statement under the parameter limit', () => {
    const adapter = planningAdapter({ maxParameters: 100, rowsPerStatement: 1000 })
    expect(rowsPerChunk(adapter, 3)).toBe(33)
    const chunks = chunkRows(adapter, group(100))
    expect(sizes(chunks)).toEqual([25, 25, 25, 25])
    for (const n of sizes(chunks)) expect(n * 3).toBeLessThanOrEqual(100)
  })

  it('balances chunks instead of leaving a tiny tail', () => {
    const adapter = planningAdapter({ maxParameters: 65_535, rowsPerStatement: 1000 })
    expect(sizes(chunkRows(adapter, group(1001, 2)))).toEqual([501, 500])
  })

  it('fewRowCounts: whole statements, then powers of two, so every batch size shares at most ten texts per shape', () => {
    const adapter = planningAdapter({
      maxParameters: 32_766,
      rowsPerStatement: 500,
      fewRowCounts: true,
    })
    expect(sizes(chunkRows(adapter, group(437)))).toEqual([256, 128, 32, 16, 4, 1])
    expect(sizes(chunkRows(adapter, group(1001)))).toEqual([500, 500, 1])
    const seen = new Set<number>()
    for (let rows = 1; rows <= 1500; rows++) {
      const chunks = chunkRows(adapter, group(rows))
      expect(sizes(chunks).reduce((a, b) => a + b)).toBe(rows)
      for (let i = 0; i < chunks.length; i++)
        expect(chunks[i]!.start).toBe(i === 0 ? 0 : chunks[i - 1]!.end)
      for (const n of sizes(chunks)) seen.add(n)
    }
    expect([...seen].sort((a, b) => a - b)).toEqual([1, 2, 4, 8, 16, 32, 64, 128, 256, 500])
  })

  it('cuts statements that would exceed the statement-size limit', () => {
    const adapter = planningAdapter({
      maxParameters: 65_535,
      rowsPerStatement: 1000,
      maxStatementBytes: 200_000,
    })
    const chunks = chunkRows(
      adapter,
      group(100, 2, () => 'x'.repeat(10_000)),
    )
    expect(chunks.length).toBeGreaterThan(1)
    expect(sizes(chunks).reduce((a, b) => a + b)).toBe(100)
  })

  it('a small packet (64 KiB) still takes statements of tens of KiB of narrow rows', () => {
    const adapter = planningAdapter({
      maxParameters: 65_535,
      rowsPerStatement: 2000,
      maxStatementBytes: 64 * 1024,
    })
    // 4 columns: an id, two short strings, a number; the estimate counts about 104 bytes a row.
    const rows = 50_000
    const chunks = chunkRows(adapter, {
      width: 4,
      values: Array.from({ length: rows }, (_, i) => [i, `name ${i % 100}`, 'x', i / 7]).flat(),
      sources: Array.from({ length: rows }, (_, i) => [i]),
    })
    expect(sizes(chunks).reduce((a, b) => a + b)).toBe(rows)
    // A fixed 64 KiB of room for the text left 1 KiB of values: 10 rows a statement, 5 500 of them.
    // Now about 470 rows (48 KiB estimated): each 2 000 rows (rowsPerStatement) in 5 statements.
    expect(Math.max(...sizes(chunks))).toBeGreaterThan(400)
    expect(chunks.length).toBeLessThanOrEqual(125)
  })

  it('a single row larger than the limit still goes alone (the server reports it)', () => {
    const adapter = planningAdapter({ maxStatementBytes: 1000 })
    const chunks = chunkRows(adapter, {
      width: 1,
      values: ['x'.repeat(5000), 'y'],
      sources: [[0], [1]],
    })
    expect(sizes(chunks)).toEqual([1, 1])
  })

  it('a sub-plan keeps the chosen rows of each group in order', () => {
    const plan = planBatch(
      {
        schema: upsert,
        rows: rows(upsert, [
          { id: 1, a: 'x' },
          { id: 2, a: 'y', b: 'z' },
          { id: 3, a: 'w' },
        ]),
      },
      planningAdapter(),
    )
    const sub = subPlan(plan.groups, [
      { group: 0, row: 1 },
      { group: 1, row: 0 },
    ])
    expect(sub.map((g) => [rowsOf(g), g.sources.map((_, i) => sourcesOf(g, i))])).toEqual([
      [[[3, 'w']], [[2]]],
      [[[2, 'y', 'z']], [[1]]],
    ])
  })
})
