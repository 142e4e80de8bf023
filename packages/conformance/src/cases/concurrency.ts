import { createHash } from 'node:crypto'
import { defineSchema } from '@batchsql/core'
import { describe, expect, it } from 'vitest'
import type { SuiteContext } from '../context.js'
import { createTable, readTable } from '../tables.js'

/** Many batches in flight at once, and a full integrity check after a concurrent load. */
export function concurrencyCases(ctx: SuiteContext): void {
  describe('concurrency and integrity', () => {
    it('overlapping upserts from many concurrent batches: the last submitted value wins', async () => {
      const t = ctx.target()
      const name = await createTable(
        t,
        [
          { name: 'id', type: 'int', notNull: true },
          { name: 'round', type: 'int' },
        ],
        ['id'],
      )
      ctx.cleanup(name)
      const schema = defineSchema({
        table: name,
        columns: ['id', 'round'],
        strategy: 'update',
        conflictColumns: ['id'],
      })
      const batch = ctx.batch({ flushSize: 250, concurrency: 4, retry: { maxAttempts: 10 } })
      const keys = 1000
      const rounds = 8
      for (let round = 0; round < rounds; round++) {
        // Each round walks all keys in a different order (multipliers coprime with 1000), so
        // batches of different rounds overlap in many ways.
        const m = [1, 3, 7, 9, 11, 13, 17, 19][round]!
        for (let k = 0; k < keys; k++)
          await batch.submit(schema, { id: (k * m + round) % keys, round })
      }
      const result = await batch.close()
      expect(result.failed).toBe(0)
      const rows = await readTable(t, name, 'id')
      expect(rows).toHaveLength(keys)
      expect(rows.filter((r) => Number(r.round) !== rounds - 1)).toEqual([])
    })

    it('two schemas on one table (a full and a partial upsert), interleaved: submit order wins per column', async () => {
      const t = ctx.target()
      const name = await createTable(
        t,
        [
          { name: 'id', type: 'int', notNull: true },
          { name: 'a', type: 'int' },
          { name: 'b', type: 'int' },
        ],
        ['id'],
      )
      ctx.cleanup(name)
      const full = defineSchema({
        table: name,
        columns: { id: 'int', a: 'int', b: 'int' },
        strategy: 'update',
        conflictColumns: ['id'],
      })
      const partial = defineSchema({
        table: name,
        columns: { id: 'int', b: 'int' },
        strategy: 'update',
        conflictColumns: ['id'],
      })
      const batch = ctx.batch({ flushSize: 40, concurrency: 4, retry: { maxAttempts: 10 } })
      const keys = 40
      const expected = new Map<number, { a: number | null; b: number }>()
      // Each round is three flushes of every key: two of the full upsert (the second waits for
      // the first, sharing its keys), then one of the partial upsert, which must wait too,
      // not overtake them. The partial one goes first in round 0: rows it creates have no a.
      let n = 0
      for (let round = 0; round < 6; round++) {
        const flushes = round === 0 ? ['partial', 'full', 'partial'] : ['full', 'full', 'partial']
        for (const which of flushes) {
          for (let k = 0; k < keys; k++) {
            const id = (k * 7 + round) % keys
            const v = ++n
            if (which === 'full') {
              await batch.submit(full, { id, a: v, b: v })
              expected.set(id, { a: v, b: v })
            } else {
              await batch.submit(partial, { id, b: -v })
              expected.set(id, { a: expected.get(id)?.a ?? null, b: -v })
            }
          }
        }
      }
      expect((await batch.close()).failed).toBe(0)
      const rows = await readTable(t, name, 'id')
      const num = (v: unknown) => (v === null ? null : Number(v))
      expect(rows.map((r) => [num(r.id), num(r.a), num(r.b)])).toEqual(
        [...expected].sort(([x], [y]) => x - y).map(([id, v]) => [id, v.a, v.b]),
      )
    })

    it('10 producers x 10,000 rows: every row present with its exact content', async () => {
      const t = ctx.target()
      const name = await createTable(
        t,
        [
          { name: 'producer', type: 'int', notNull: true },
          { name: 'seq', type: 'int', notNull: true },
          { name: 'payload', type: 'string' },
          { name: 'amount', type: 'bigint' },
        ],
        ['producer', 'seq'],
      )
      ctx.cleanup(name)
      const schema = defineSchema({
        table: name,
        columns: { producer: 'int', seq: 'int', payload: 'string', amount: 'bigint' },
      })
      const batch = ctx.batch({ flushSize: 500, bufferSize: 10_000 })
      const producers = 10
      const perProducer = 10_000
      const expected = createHash('sha256')
      const produce = async (p: number) => {
        for (let seq = 0; seq < perProducer; seq++) {
          await batch.submit(schema, {
            producer: p,
            seq,
            payload: `p${p}-s${seq}-ü`,
            amount: BigInt(p) * 1_000_000n + BigInt(seq),
          })
        }
      }
      await Promise.all(Array.from({ length: producers }, (_, p) => produce(p)))
      const result = await batch.close()
      expect(result).toMatchObject({
        accepted: producers * perProducer,
        committed: producers * perProducer,
        failed: 0,
      })
      for (let p = 0; p < producers; p++) {
        for (let seq = 0; seq < perProducer; seq++)
          expected.update(`${p}|${seq}|p${p}-s${seq}-ü|${BigInt(p) * 1_000_000n + BigInt(seq)}\n`)
      }
      const q = (s: string) => t.quote(s)
      const rows = await t.query(`SELECT * FROM ${q(name)} ORDER BY ${q('producer')}, ${q('seq')}`)
      expect(rows).toHaveLength(producers * perProducer)
      const actual = createHash('sha256')
      for (const r of rows)
        actual.update(
          `${Number(r.producer)}|${Number(r.seq)}|${r.payload}|${BigInt(r.amount as string)}\n`,
        )
      expect(actual.digest('hex')).toBe(expected.digest('hex'))
    })
  })
}
