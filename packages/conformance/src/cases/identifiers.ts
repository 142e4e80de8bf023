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
  })
}
