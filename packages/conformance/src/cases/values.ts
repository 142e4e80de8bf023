import { type AnyRow, defineSchema, type Schema } from '@batchsql/core'
import type { SqlBatchSQL } from '@batchsql/kysely'
import { describe, expect, it } from 'vitest'
import type { SuiteContext } from '../context.js'
import { canonical } from '../normalize.js'
import { createTable, readTable } from '../tables.js'
import type { ColumnDdl, ConformanceTarget } from '../target.js'

/** The schema's columns; the table declares each with the same type, `s` as long text. */
const COLUMNS = {
  id: 'int',
  i: 'int',
  big: 'bigint',
  f: 'float',
  dec: 'decimal',
  ok: 'boolean',
  at: 'date',
  raw: 'bytes',
  doc: 'json',
  s: 'string',
} as const
const ddlType = (t: (typeof COLUMNS)[keyof typeof COLUMNS]): keyof ColumnDdl =>
  t === 'string' ? 'text' : t

/**
 * How rows are handed over: `submit()` and `submitMany()` rows are buffered as one flat array
 * per schema, `submitAndWait()` rows as one Request each; all must write the same.
 */
const VIAS = ['submit', 'submitMany', 'submitAndWait'] as const

async function write(
  batch: SqlBatchSQL,
  schema: Schema,
  rows: AnyRow[],
  via: (typeof VIAS)[number],
): Promise<void> {
  if (via === 'submitMany') await batch.submitMany(schema, rows)
  else if (via === 'submit') for (const r of rows) await batch.submit(schema, r)
  else await Promise.all(rows.map((r) => batch.submitAndWait(schema, r)))
}

/** Every value type survives the round trip: written by BatchSQL, read by the bare driver. */
export function valueCases(ctx: SuiteContext): void {
  describe('value round trip', () => {
    it.each(VIAS)(
      'int, bigint past 2^53, float, decimal, boolean, date, bytes, JSON, unicode, empty vs null (%s)',
      async (via) => {
        const t = ctx.target()
        const name = await createTable(
          t,
          Object.entries(COLUMNS).map(([c, type]) => ({
            name: c,
            type: ddlType(type),
            notNull: c === 'id',
          })),
          ['id'],
        )
        ctx.cleanup(name)
        const schema = defineSchema({ table: name, columns: COLUMNS })
        const rows = [
          {
            id: 1,
            i: -2147483648,
            big: 9007199254740993n,
            f: 1.5,
            dec: '12345678901234.5678',
            ok: true,
            at: new Date('2024-02-29T23:59:58.123Z'),
            raw: new Uint8Array([0, 1, 127, 128, 255]),
            doc: { a: [1, 'x', null], nested: { b: true } },
            // COPY's text format escapes backslash, tab, LF and CR; `\N` is its NULL marker.
            s: 'unicode: 日本語, emoji 😀, quote \' and "double", backslash \\, \\N, \\t, tab\t, lf\n, crlf\r\n, cr\r.',
          },
          {
            id: 2,
            i: 2147483647,
            big: -9223372036854775808n,
            f: -0.25,
            dec: '-0.0001',
            ok: false,
            at: new Date(0),
            raw: new Uint8Array([]),
            doc: [],
            s: '',
          },
          {
            id: 3,
            i: null,
            big: null,
            f: null,
            dec: null,
            ok: null,
            at: null,
            raw: null,
            doc: null,
            s: null,
          },
        ]
        const batch = ctx.batch()
        await write(batch, schema, rows, via)
        await batch.close()
        const got = await readTable(t, name, 'id')
        expect(got).toHaveLength(3)
        const jsonText = await returnsJsonAsText(t, ctx)
        const canon = (read: boolean) => (r: Record<string, unknown>) =>
          Object.fromEntries(
            Object.entries(COLUMNS).map(([c, type]) => [
              c,
              canonical(ddlType(type), r[c], read && jsonText),
            ]),
          )
        expect(got.map(canon(true))).toEqual(rows.map(canon(false)))
        // Empty string and null stay apart.
        expect(got[1]!.s).toBe('')
        expect(got[2]!.s).toBeNull()
      },
    )

    it.each(VIAS)('a JSON column holds JSON text for strings and numbers too (%s)', async (via) => {
      // A batch of only strings and numbers may be bound as buffered: a JSON column's values
      // must still become JSON text ("text" is not a JSON document; "\"text\"" is).
      const t = ctx.target()
      const name = await createTable(
        t,
        [
          { name: 'id', type: 'int', notNull: true },
          { name: 'doc', type: 'json' },
        ],
        ['id'],
      )
      ctx.cleanup(name)
      const schema = defineSchema({ table: name, columns: { id: 'int', doc: 'json' } })
      const rows = [
        { id: 1, doc: 'text' },
        { id: 2, doc: 5 },
        { id: 3, doc: '{"looks":"like an object"}' },
      ]
      const batch = ctx.batch()
      await write(batch, schema, rows, via)
      await batch.close()
      // Some drivers return a JSON column parsed (pg, mysql2), others as text (better-sqlite3):
      // a row written by the bare driver says which, so a JSON string is read back exactly.
      await t.exec(
        `INSERT INTO ${t.quote(name)} (${t.quote('id')}, ${t.quote('doc')}) VALUES (0, '{"probe":1}')`,
      )
      const [probe, ...got] = await readTable(t, name, 'id')
      const parsed = typeof probe!.doc === 'object'
      expect(got.map((r) => (parsed ? r.doc : JSON.parse(r.doc as string)))).toEqual(
        rows.map((r) => r.doc),
      )
    })
  })
}

/**
 * Whether the bare driver returns a JSON column's value as its text: asked of a document the
 * driver wrote itself (`'[]'` as an SQL literal), never of the rows under test. Guessed from
 * those, an adapter that double-encoded every document (a JSON string holding the text) read
 * back as text and compared equal.
 */
async function returnsJsonAsText(t: ConformanceTarget, ctx: SuiteContext): Promise<boolean> {
  const probe = await createTable(
    t,
    [
      { name: 'id', type: 'int', notNull: true },
      { name: 'doc', type: 'json' },
    ],
    ['id'],
  )
  ctx.cleanup(probe)
  await t.exec(
    `INSERT INTO ${t.quote(probe)} (${t.quote('id')}, ${t.quote('doc')}) VALUES (1, '[]')`,
  )
  const [row] = await t.query(
    `SELECT ${t.quote('doc')} AS ${t.quote('doc')} FROM ${t.quote(probe)}`,
  )
  return typeof row?.doc === 'string'
}
