import { defineSchema } from '@batchsql/core'
import { describe, expect, it } from 'vitest'
import type { SuiteContext } from '../context.js'
import { countRows, createTable } from '../tables.js'

const TEN = ['id', 'c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7', 'c8', 'c9'] as const

/** Batches past the parameter limit are chunked, and a batch commits whole or not at all. */
export function chunkingCases(ctx: SuiteContext): void {
  describe('chunking and atomicity', () => {
    async function wideTable() {
      const name = await createTable(
        ctx.target(),
        TEN.map((c) =>
          c === 'id'
            ? { name: c, type: 'int' as const, notNull: true }
            : { name: c, type: 'string' as const, notNull: true },
        ),
        ['id'],
      )
      ctx.cleanup(name)
      return name
    }
    const row = (i: number): Record<string, unknown> =>
      Object.fromEntries(TEN.map((c) => [c, c === 'id' ? i : `${c}-${i}`]))

    it('writes one batch of 100,000 rows x 10 columns', async () => {
      const rows = ctx.options.largeBatchRows ?? 100_000
      const name = await wideTable()
      const schema = defineSchema({ table: name, columns: TEN })
      const batch = ctx.batch({
        flushSize: rows,
        bufferSize: rows,
        flushInterval: 60_000,
        timeoutMs: 120_000,
      })
      const all = Array.from({ length: rows }, (_, i) => row(i))
      const preview = batch.preview(schema, all)
      expect(preview.statements).toBeGreaterThan(1)
      expect(preview.parameters.length).toBeLessThanOrEqual(ctx.target().maxParameters)
      expect(preview.parameterCount).toBe(rows * 10)
      const acks = all.map((r) => batch.submitAndWait(schema, r))
      await batch.close()
      await Promise.all(acks)
      expect(batch.stats().flushes).toBe(1)
      const t = ctx.target()
      expect(await countRows(t, name)).toBe(rows)
      const [sum] = await t.query(
        `SELECT SUM(${t.quote('id')}) AS ${t.quote('s')} FROM ${t.quote(name)}`,
      )
      expect(BigInt(sum!.s as string)).toBe(BigInt((rows * (rows - 1)) / 2))
      const [last] = await t.query(
        `SELECT ${t.quote('c9')} FROM ${t.quote(name)} WHERE ${t.quote('id')} = ${rows - 1}`,
      )
      expect(last!.c9).toBe(`c9-${rows - 1}`)
    })

    it('rows of 200-1,000 columns: the parameter limit, not the row cap, bounds each statement, and a statement of exactly that many values is written', async () => {
      // With 10 columns the adapter's rows-per-statement cap always binds first, so an adapter
      // that declared a parameter limit above its database's would pass every other case. A
      // width that divides the limit (771 columns for 65,535, 85 rows a statement; 381 for
      // SQLite's 32,766, 86 rows), with a whole number of full statements, makes each hold
      // exactly maxParameters values: with 200 columns a limit two above the driver's real
      // one (postgres.js refuses past 65,533) still passed.
      const t = ctx.target()
      const exact = exactWidth(t.maxParameters)
      const width = exact ?? 200
      const columns = ['id', ...Array.from({ length: width - 1 }, (_, i) => `c${i + 1}`)]
      const name = await createTable(
        t,
        columns.map((c) => ({ name: c, type: 'int' as const, notNull: true })),
        ['id'],
      )
      ctx.cleanup(name)
      const schema = defineSchema({ table: name, columns })
      const rows = exact === undefined ? 1_000 : (4 * t.maxParameters) / exact
      const all = Array.from({ length: rows }, (_, i) =>
        Object.fromEntries(columns.map((c, k) => [c, k === 0 ? i : i % 1000])),
      )
      const batch = ctx.batch({ flushSize: rows, bufferSize: rows, flushInterval: 60_000 })
      const preview = batch.preview(schema, all)
      if (exact !== undefined) expect(preview.parameters.length).toBe(t.maxParameters)
      else expect(preview.parameters.length).toBeLessThanOrEqual(t.maxParameters)
      expect(preview.statements).toBeGreaterThanOrEqual(Math.ceil((rows * width) / t.maxParameters))
      const acks = all.map((r) => batch.submitAndWait(schema, r))
      await batch.close()
      await Promise.all(acks)
      expect(await countRows(t, name)).toBe(rows)
      const [sum] = await t.query(
        `SELECT SUM(${t.quote('c199')}) AS ${t.quote('s')} FROM ${t.quote(name)}`,
      )
      expect(Number(sum!.s)).toBe((rows * (rows - 1)) / 2)
    })

    it('a failing chunk leaves nothing of its batch (poisonRows: fail-batch)', async () => {
      const name = await wideTable()
      const schema = defineSchema({ table: name, columns: TEN })
      const batch = ctx.batch({
        flushSize: 20_000,
        bufferSize: 20_000,
        flushInterval: 60_000,
        poisonRows: 'fail-batch',
      })
      const rows = Array.from({ length: 20_000 }, (_, i) => row(i))
      // The very last row violates NOT NULL: the last chunk fails after earlier chunks ran.
      rows[rows.length - 1]!.c5 = null
      expect(batch.preview(schema, rows.slice(0, -1)).statements).toBeGreaterThan(1)
      const acks = rows.map((r) =>
        batch.submitAndWait(schema, r).then(
          () => 'ok',
          (e: unknown) => e,
        ),
      )
      await batch.close()
      const results = await Promise.all(acks)
      expect(results.every((r) => r !== 'ok')).toBe(true)
      expect(results[0]).toMatchObject({ code: 'BATCHSQL_BATCH_FAILED' })
      expect(await countRows(ctx.target(), name)).toBe(0)
    })

    it.each(['isolate', 'fail-batch'] as const)(
      'rows of different shapes in one batch (statements per run, or one with DEFAULT) commit together or not at all (poisonRows: %s)',
      async (poisonRows) => {
        // No key: a group committed apart from the one that failed would be written again
        // by the retry, twice, with nothing to refuse it.
        const name = await createTable(
          ctx.target(),
          TEN.map((c) => ({ name: c, type: c === 'id' ? 'int' : 'string', notNull: true })),
          [],
        )
        ctx.cleanup(name)
        const schema = defineSchema({ table: name, columns: TEN })
        const batch = ctx.batch({ flushSize: 10, flushInterval: 60_000, poisonRows })
        // Every column, then only two (NOT NULL violated), then every column again.
        const rows = [row(1), { id: 2, c5: null }, row(3)]
        const acks = rows.map((r) =>
          batch.submitAndWait(schema, r).then(
            () => 'ok',
            (e: unknown) => (e as { reason?: string }).reason,
          ),
        )
        await batch.close()
        const results = await Promise.all(acks)
        const t = ctx.target()
        const ids = (
          await t.query(`SELECT ${t.quote('id')} FROM ${t.quote(name)} ORDER BY ${t.quote('id')}`)
        ).map((r) => Number(r.id))
        if (poisonRows === 'isolate') {
          expect(results).toEqual(['ok', 'data', 'ok'])
          expect(ids).toEqual([1, 3])
        } else {
          expect(results).toEqual(['data', 'data', 'data'])
          expect(ids).toEqual([])
        }
      },
    )

    it('poison rows are isolated: good rows commit, each bad row fails alone', async () => {
      const name = await wideTable()
      const schema = defineSchema({ table: name, columns: TEN })
      const batch = ctx.batch({ flushSize: 1000, flushInterval: 60_000 })
      const rows = Array.from({ length: 1000 }, (_, i) => row(i))
      rows[17]!.c3 = null
      rows[600]!.c8 = null
      const acks = rows.map((r) =>
        batch.submitAndWait(schema, r).then(
          () => 'ok',
          (e: unknown) => e,
        ),
      )
      await batch.close()
      const results = await Promise.all(acks)
      const failed = results.map((r, i) => (r === 'ok' ? -1 : i)).filter((i) => i >= 0)
      expect(failed).toEqual([17, 600])
      expect(results[17]).toMatchObject({ code: 'BATCHSQL_BATCH_FAILED', reason: 'data' })
      expect(await countRows(ctx.target(), name)).toBe(998)
    })
  })
}

/**
 * The fewest columns, from 200 to 1,000, that divide `limit` into statements of at most 100
 * rows (under any adapter's rows-per-statement cap of 100 or more), if any do.
 */
function exactWidth(limit: number): number | undefined {
  for (let c = 200; c <= 1000; c++) if (limit % c === 0 && limit / c <= 100) return c
  return undefined
}
