import { defineSchema } from '@batchsql/core'
import { describe, expect, it } from 'vitest'
import type { SuiteContext } from '../context.js'
import { createTable, readTable } from '../tables.js'

/** Identifiers are quoted by Kysely, never spliced: spaces, quotes and reserved words work. */
export function identifierCases(ctx: SuiteContext): void {
  describe('identifiers', () => {
    it('writes to a table and columns named with spaces, quotes, reserved words and dots', async () => {
      const t = ctx.target()
      // A column name with a dot is one name, never a table.column reference (an upsert's
      // SET clause must not turn "a.b" into "excluded"."a"."b").
      const columns = ['select', 'my column', 'quo"te', "it's", 'order', 'a.b']
      const name = await createTable(
        t,
        columns.map((c) => ({
          name: c,
          type: c === 'select' ? ('int' as const) : ('string' as const),
          notNull: c === 'select',
        })),
        ['select'],
        'from "odd" t',
      )
      ctx.cleanup(name)
      for (const strategy of ['insert', 'update'] as const) {
        const schema = defineSchema({
          table: name,
          columns,
          strategy,
          conflictColumns: strategy === 'update' ? ['select'] : undefined,
        })
        const batch = ctx.batch()
        batch.submit(schema, {
          select: 1,
          'my column': `a ${strategy}`,
          'quo"te': 'b"',
          "it's": "c'",
          order: 'd; DROP TABLE x',
          'a.b': `f ${strategy}`,
        })
        batch.submit(schema, { select: strategy === 'insert' ? 2 : 3, 'my column': 'e' })
        await batch.close()
      }
      const rows = await readTable(t, name, 'select')
      expect(
        rows.map((r) => [
          Number(r.select),
          r['my column'],
          r['quo"te'],
          r["it's"],
          r.order,
          r['a.b'],
        ]),
      ).toEqual([
        [1, 'a update', 'b"', "c'", 'd; DROP TABLE x', 'f update'],
        [2, 'e', null, null, null, null],
        [3, 'e', null, null, null, null],
      ])
    })

    it('writes columns named like Object.prototype members (__proto__, constructor, toString)', async () => {
      const t = ctx.target()
      const columns = ['id', '__proto__', 'constructor', 'toString']
      const name = await createTable(
        t,
        columns.map((c) => ({
          name: c,
          type: c === 'id' ? ('int' as const) : ('string' as const),
          notNull: c === 'id',
        })),
        ['id'],
      )
      ctx.cleanup(name)
      // A row of [id, __proto__, constructor, toString], undefined leaving a column unset.
      // Object.fromEntries makes "__proto__" an own key, as JSON.parse does (the row objects
      // of a JSON API); in an object literal it would set the row's prototype instead.
      const row = (...values: (number | string | undefined)[]) =>
        Object.fromEntries(columns.map((c, i) => [c, values[i]]))
      const write = async (
        strategy: 'insert' | 'update' | 'replace',
        rows: Record<string, number | string | undefined>[],
      ) => {
        const schema = defineSchema({
          table: name,
          columns,
          strategy,
          conflictColumns: strategy === 'insert' ? undefined : ['id'],
        })
        const batch = ctx.batch()
        // One batch: rows of several column sets in one transaction (one statement with
        // DEFAULT where the dialect takes it).
        const acks = rows.map((r) => batch.submitAndWait(schema, r))
        for (const ack of acks) await expect(ack).resolves.toBeUndefined()
        await batch.close()
      }
      await write('insert', [row(1, 'p1', 'c1', 's1'), row(2, undefined, 'c2')])
      // A column a row does not set keeps its stored value.
      await write('update', [
        row(1, 'p1 update'),
        row(2, 'p2 update', undefined, 's2 update'),
        row(3, 'p3', 'c3', 's3'),
      ])
      // Whole rows: a replace that deletes (MySQL, SQLite) and one that updates agree on them.
      await write('replace', [
        row(3, 'p3 replace', 'c3 replace', 's3 replace'),
        row(4, 'p4', 'c4', 's4'),
      ])
      // Read under aliases: the bare drivers build their row objects by assignment too.
      const q = t.quote
      const rows = await t.query(
        `SELECT ${q('id')} AS ${q('id')}, ${q('__proto__')} AS ${q('p')}, ${q('constructor')} AS ${q('c')}, ${q('toString')} AS ${q('s')} FROM ${q(name)} ORDER BY ${q('id')}`,
      )
      expect(rows.map((r) => [Number(r.id), r.p, r.c, r.s])).toEqual([
        [1, 'p1 update', 'c1', 's1'],
        [2, 'p2 update', 'c2', 's2 update'],
        [3, 'p3 replace', 'c3 replace', 's3 replace'],
        [4, 'p4', 'c4', 's4'],
      ])
    })
  })
}
