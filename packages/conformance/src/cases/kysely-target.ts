import { defineSchema } from '@batchsql/core'
import {
  type KyselyPlugin,
  OperationNodeTransformer,
  type PrimitiveValueListNode,
  type QueryId,
  type ValueNode,
} from 'kysely'
import { describe, expect, it } from 'vitest'
import type { SuiteContext } from '../context.js'
import { createTable, readTable } from '../tables.js'

const lower = (v: unknown) => (typeof v === 'string' ? v.toLowerCase() : v)

/** A plugin of the application's that rewrites values: lower-cases every string it binds. */
class LowerCaseValues extends OperationNodeTransformer {
  protected override transformValue(node: ValueNode, queryId?: QueryId): ValueNode {
    const v = super.transformValue(node, queryId)
    return { ...v, value: lower(v.value) }
  }
  protected override transformPrimitiveValueList(
    node: PrimitiveValueListNode,
    queryId?: QueryId,
  ): PrimitiveValueListNode {
    const v = super.transformPrimitiveValueList(node, queryId)
    return { ...v, values: v.values.map(lower) }
  }
}
const lowerCaseValues: KyselyPlugin = {
  transformQuery: (args) => new LowerCaseValues().transformNode(args.node, args.queryId),
  transformResult: async (args) => args.result,
}

/** The application's own Kysely instance as the target, with its plugins. */
export function kyselyTargetCases(ctx: SuiteContext): void {
  describe("the application's Kysely instance", () => {
    it('a plugin that rewrites values applies to every batch, not only to the first', async () => {
      const t = ctx.target()
      const name = await createTable(
        t,
        [
          { name: 'id', type: 'int', notNull: true },
          { name: 'email', type: 'string' },
        ],
        ['id'],
      )
      ctx.cleanup(name)
      const { batch, destroy } = t.createBatchSQLOnKysely([lowerCaseValues])
      try {
        const s = defineSchema({ table: name, columns: { id: 'int', email: 'string' } })
        // The first batch's value comes out of the plugin unchanged. Until 2026-11-29 its
        // statement text was then cached and later batches of that shape were bound past
        // the plugin, raw.
        for (const [id, email] of [
          [1, 'bob@example.com'],
          [2, 'Ada@Example.COM'],
          [3, 'Carol@Example.COM'],
        ] as const)
          await batch.submitAndWait(s, { id, email })
        expect(batch.preview(s, [{ id: 4, email: 'PREVIEW@X' }]).parameters).toContain('preview@x')
        expect(await batch.close()).toMatchObject({ committed: 3, failed: 0 })
      } finally {
        await batch.close()
        await destroy()
      }
      const rows = await readTable(t, name, 'id')
      expect(rows.map((r) => r.email)).toEqual([
        'bob@example.com',
        'ada@example.com',
        'carol@example.com',
      ])
    })
  })
}
