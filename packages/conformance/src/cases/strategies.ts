import { defineSchema } from '@batchsql/core'
import { describe, expect, it } from 'vitest'
import type { SuiteContext } from '../context.js'
import { createTable, readTable } from '../tables.js'

/** Every conflict strategy, with its observable effect on a row that already exists. */
export function strategyCases(ctx: SuiteContext): void {
  describe('conflict strategies', () => {
    async function seeded() {
      const t = ctx.target()
      const table = await createTable(
        t,
        [
          { name: 'id', type: 'int', notNull: true },
          { name: 'name', type: 'string' },
          { name: 'n', type: 'int' },
        ],
        ['id'],
      )
      ctx.cleanup(table)
      await t.exec(
        `INSERT INTO ${t.quote(table)} (${t.quote('id')}, ${t.quote('name')}, ${t.quote('n')}) VALUES (1, 'old', 1)`,
      )
      return table
    }
    const plain = (rows: Record<string, unknown>[]) =>
      rows.map((r) => ({
        id: Number(r.id),
        name: r.name ?? null,
        n: r.n === null ? null : Number(r.n),
      }))

    it('insert adds new rows and reports a duplicate key as that row’s own failure', async () => {
      const table = await seeded()
      const schema = defineSchema({ table, columns: ['id', 'name', 'n'] })
      const batch = ctx.batch()
      const ok = batch.submitAndWait(schema, { id: 2, name: 'two', n: 2 })
      const dup = batch.submitAndWait(schema, { id: 1, name: 'dup', n: 9 })
      await expect(ok).resolves.toBeUndefined()
      const err = await dup.then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(err).toMatchObject({ code: 'BATCHSQL_BATCH_FAILED', reason: 'duplicate_key' })
      await batch.close()
      expect(plain(await readTable(ctx.target(), table, 'id'))).toEqual([
        { id: 1, name: 'old', n: 1 },
        { id: 2, name: 'two', n: 2 },
      ])
    })

    it('ignore keeps the existing row', async () => {
      const table = await seeded()
      const schema = defineSchema({
        table,
        columns: ['id', 'name', 'n'],
        strategy: 'ignore',
        conflictColumns: ['id'],
      })
      const batch = ctx.batch()
      batch.submit(schema, { id: 1, name: 'new', n: 5 })
      batch.submit(schema, { id: 3, name: 'three', n: 3 })
      // Ignored, not failed: a plain INSERT would leave the same table and fail row 1.
      expect(await batch.close()).toMatchObject({ committed: 2, failed: 0 })
      expect(plain(await readTable(ctx.target(), table, 'id'))).toEqual([
        { id: 1, name: 'old', n: 1 },
        { id: 3, name: 'three', n: 3 },
      ])
    })

    it('replace makes the existing row the new one', async () => {
      const table = await seeded()
      const schema = defineSchema({
        table,
        columns: ['id', 'name', 'n'],
        strategy: 'replace',
        conflictColumns: ['id'],
      })
      const batch = ctx.batch()
      batch.submit(schema, { id: 1, name: 'new', n: 5 })
      expect(await batch.close()).toMatchObject({ committed: 1, failed: 0 })
      expect(plain(await readTable(ctx.target(), table, 'id'))).toEqual([
        { id: 1, name: 'new', n: 5 },
      ])
    })

    it('update overwrites only the update columns', async () => {
      const table = await seeded()
      const schema = defineSchema({
        table,
        columns: ['id', 'name', 'n'],
        strategy: 'update',
        conflictColumns: ['id'],
        updateColumns: ['name'],
      })
      const batch = ctx.batch()
      batch.submit(schema, { id: 1, name: 'new', n: 99 })
      batch.submit(schema, { id: 4, name: 'four', n: 4 })
      expect(await batch.close()).toMatchObject({ committed: 2, failed: 0 })
      expect(plain(await readTable(ctx.target(), table, 'id'))).toEqual([
        { id: 1, name: 'new', n: 1 },
        { id: 4, name: 'four', n: 4 },
      ])
    })

    it('update never overwrites a column the row did not set', async () => {
      const table = await seeded()
      const schema = defineSchema({
        table,
        columns: ['id', 'name', 'n'],
        strategy: 'update',
        conflictColumns: ['id'],
      })
      const batch = ctx.batch()
      batch.submit(schema, { id: 1, n: 7 })
      expect(await batch.close()).toMatchObject({ committed: 1, failed: 0 })
      expect(plain(await readTable(ctx.target(), table, 'id'))).toEqual([
        { id: 1, name: 'old', n: 7 },
      ])
    })

    it('update: a row that sets no update column keeps an existing row, and a NOT NULL violation is still reported, not dropped', async () => {
      // Such a row has nothing to update on a conflict. SQLite's adapter once wrote it with
      // INSERT OR IGNORE, which also skips a NOT NULL violation and reports the row written.
      const t = ctx.target()
      const table = await createTable(
        t,
        [
          { name: 'id', type: 'int', notNull: true },
          { name: 'name', type: 'string', notNull: true },
          { name: 'n', type: 'int' },
        ],
        ['id'],
      )
      ctx.cleanup(table)
      await t.exec(
        `INSERT INTO ${t.quote(table)} (${t.quote('id')}, ${t.quote('name')}, ${t.quote('n')}) VALUES (1, 'old', 1)`,
      )
      const schema = defineSchema({
        table,
        columns: ['id', 'name', 'n'],
        strategy: 'update',
        conflictColumns: ['id'],
        updateColumns: ['n'],
      })
      const batch = ctx.batch()
      const outcome = (p: Promise<void>) =>
        p.then(
          () => 'committed',
          (e: unknown) => (e as { reason?: string }).reason,
        )
      const results = await Promise.all([
        outcome(batch.submitAndWait(schema, { id: 1, name: 'new' })),
        outcome(batch.submitAndWait(schema, { id: 5, name: null })),
        outcome(batch.submitAndWait(schema, { id: 6 })),
        outcome(batch.submitAndWait(schema, { id: 7, name: 'seven' })),
      ])
      await batch.close()
      expect(results).toEqual(['committed', 'data', 'data', 'committed'])
      expect(plain(await readTable(t, table, 'id'))).toEqual([
        { id: 1, name: 'old', n: 1 },
        { id: 7, name: 'seven', n: null },
      ])
    })

    it('update: a row that collides on another unique key is not skipped as if it collided on the conflict columns', async () => {
      // A row that sets no update column is written with a do-nothing on its conflict columns
      // only: a bare ON CONFLICT DO NOTHING (any constraint) skipped a row colliding on a
      // second unique index and reported it written.
      const t = ctx.target()
      const table = await seeded() // (1, 'old', 1)
      await t.exec(
        `CREATE UNIQUE INDEX ${t.quote(`${table}_name`)} ON ${t.quote(table)} (${t.quote('name')})`,
      )
      const schema = defineSchema({
        table,
        columns: ['id', 'name', 'n'],
        strategy: 'update',
        conflictColumns: ['id'],
        updateColumns: ['n'],
      })
      const batch = ctx.batch()
      const result = await batch.submitAndWait(schema, { id: 2, name: 'old' }).then(
        () => 'committed',
        (e: unknown) => (e as { reason?: string }).reason,
      )
      await batch.close()
      // Either way the stored row is untouched and no second row appears.
      expect(plain(await readTable(t, table, 'id'))).toEqual([{ id: 1, name: 'old', n: 1 }])
      expect(result).toBe(t.upsertsOnAnyUniqueKey === true ? 'committed' : 'duplicate_key')
    })

    it('an explicit null is written as null', async () => {
      const table = await seeded()
      const schema = defineSchema({
        table,
        columns: ['id', 'name', 'n'],
        strategy: 'update',
        conflictColumns: ['id'],
      })
      const batch = ctx.batch()
      batch.submit(schema, { id: 1, name: null })
      await batch.close()
      expect(plain(await readTable(ctx.target(), table, 'id'))).toEqual([
        { id: 1, name: null, n: 1 },
      ])
    })
  })
}
