import { defineSchema, Request, type Schema, type Value } from '@batchsql/core'
import {
  DummyDriver,
  Kysely,
  MysqlAdapter,
  MysqlIntrospector,
  MysqlQueryCompiler,
  sql,
} from 'kysely'
import { describe, expect, it } from 'vitest'
import { chunkRows } from '../src/chunks.js'
import { KyselyProcessor } from '../src/index.js'
import { planBatch } from '../src/plan.js'
import { planningAdapter } from './fake-adapter.js'

// Compiles only (DummyDriver runs nothing): that MySQL accepts the statements is the MySQL
// conformance suite's job, against a real server.
const db = new Kysely<any>({
  dialect: {
    createAdapter: () => new MysqlAdapter(),
    createDriver: () => new DummyDriver(),
    createIntrospector: (k) => new MysqlIntrospector(k),
    createQueryCompiler: () => new MysqlQueryCompiler(),
  },
})
const adapter = planningAdapter({
  bindsRowList: true,
  maxParameters: 65_535,
  buildInsert: (k, shape, rows) =>
    k
      .insertInto(shape.schema.table)
      .values(rows as never)
      .onDuplicateKeyUpdate({ b: sql.raw('values(`b`)') }),
})

function compiled(table: string, columns: string[], rows: Record<string, Value>[]) {
  const schema: Schema = defineSchema({ table, columns })
  const plan = planBatch({ schema, rows: rows.map((r) => Request.from(schema, r)) }, adapter)
  const processor = new KyselyProcessor(db, adapter)
  const g = plan.groups[0]!
  const chunk = chunkRows(adapter, g)[0]!
  return { list: processor.compile(g, chunk), placeholders: processor.compile(g, chunk, true) }
}

describe('row-list binding (dialects whose driver expands `VALUES ?`)', () => {
  it('binds the rows as one list parameter, the rest of the statement unchanged', () => {
    const { list, placeholders } = compiled(
      't',
      ['a', 'b'],
      [
        { a: 1, b: 'x' },
        { a: 2, b: null },
      ],
    )
    expect(list.sql).toBe(
      'insert into `t` (`a`, `b`) values ? on duplicate key update `b` = values(`b`)',
    )
    expect(list.parameters).toEqual([
      [
        [1, 'x'],
        [2, null],
      ],
    ])
    // preview() shows one placeholder per value
    expect(placeholders.sql).toContain('values (?, ?), (?, ?)')
    expect(placeholders.parameters).toEqual([1, 'x', 2, null])
  })

  it('falls back to placeholders when the statement has another `?` (an identifier holding one)', () => {
    const { list } = compiled('t?', ['a', 'b'], [{ a: 1, b: 'x' }])
    expect(list.sql).toContain('values (?, ?)')
    expect(list.parameters).toEqual([1, 'x'])
  })
})
