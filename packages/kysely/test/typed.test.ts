import { defineSchema, Request } from '@batchsql/core'
import type { ColumnType, Generated, Insertable, Updateable } from 'kysely'
import { describe, expect, expectTypeOf, it } from 'vitest'
import {
  type SqlBatchSQL,
  type TableColumn,
  type TableRow,
  type TableSchemaDefinition,
  tableSchema,
} from '../src/index.js'

interface Database {
  events: { id: Generated<number>; kind: string; at: Date; note: string | null }
  users: { id: number; name: string }
}

describe('typed tables from a Kysely Database type', () => {
  it('derives the row type from the table', () => {
    const events = tableSchema<Database>()({
      table: 'events',
      columns: ['id', 'kind', 'at', 'note'],
    })
    expect(events.columns).toEqual(['id', 'kind', 'at', 'note'])
    expectTypeOf<TableRow<Database, 'events'>>().toHaveProperty('kind').toEqualTypeOf<string>()
    // The column names compiler messages speak of, importable from the package root.
    expectTypeOf<TableColumn<Database, 'users'>>().toEqualTypeOf<'id' | 'name'>()
    const ok: TableRow<Database, 'events'> = { kind: 'click', at: new Date(), note: null }
    expect(ok.kind).toBe('click')
    // @ts-expect-error: an unknown column is a compile error
    const unknownColumn: TableRow<Database, 'events'> = { kind: 'x', at: new Date(), colour: 'red' }
    // @ts-expect-error: a wrong value type is a compile error
    const wrongType: TableRow<Database, 'events'> = { kind: 42, at: new Date() }
    // @ts-expect-error: a required column (no default) is missing
    const missing: TableRow<Database, 'users'> = { name: 'Ada' }
    void [unknownColumn, wrongType, missing]
  })

  it('types a row by the columns the schema writes, not by the whole table', () => {
    const events = tableSchema<Database>()({ table: 'events', columns: ['kind', 'note'] })
    type Row = NonNullable<(typeof events)['__row']>
    // `at` is required in the table but left to its default by this schema: not demanded.
    const ok: Row = { kind: 'click' }
    // @ts-expect-error: `at` is a column of the table, but not one this schema writes
    const notWritten: Row = { kind: 'click', at: new Date() }
    // @ts-expect-error: `kind` is required by the table and written by the schema
    const missingKind: Row = { note: null }
    void [ok, notWritten, missingKind]
    expect(() =>
      // @ts-expect-error: conflict columns must be among the schema's columns
      tableSchema<Database>()({ table: 'users', columns: ['name'], conflictColumns: ['id'] }),
    ).toThrow(/conflict column "id"/)
  })

  it('update columns are columns Kysely lets an UPDATE set', () => {
    interface Db {
      docs: {
        id: number
        body: string
        created: ColumnType<Date, Date | undefined, never>
      }
    }
    const ok = tableSchema<Db>()({
      table: 'docs',
      columns: ['id', 'body', 'created'],
      strategy: 'update',
      conflictColumns: ['id'],
      updateColumns: ['body'],
    })
    expect(ok.updateColumns).toEqual(['body'])
    tableSchema<Db>()({
      table: 'docs',
      columns: ['id', 'body', 'created'],
      strategy: 'update',
      conflictColumns: ['id'],
      // @ts-expect-error: never updated (its update type is never)
      updateColumns: ['body', 'created'],
    })
  })

  it('required columns are demanded, non-null, by the row type as at submit()', () => {
    const events = tableSchema<Database>()({
      table: 'events',
      columns: ['kind', 'at', 'note'],
      required: ['note'],
    })
    type Row = NonNullable<(typeof events)['__row']>
    const ok: Row = { kind: 'click', at: new Date(), note: 'n' }
    // @ts-expect-error: `note` is required by the schema (nullable in the table)
    const missing: Row = { kind: 'click', at: new Date() }
    // @ts-expect-error: and must not be null
    const nullNote: Row = { kind: 'click', at: new Date(), note: null }
    void [ok, missing, nullNote]
    // And at runtime: a row without it is refused at submit().
    expect(() => Request.from(events, { kind: 'click', at: new Date() } as never)).toThrow(
      expect.objectContaining({ code: 'BATCHSQL_MISSING_VALUE', column: 'note' }),
    )
    // Without `required` the row type is the table's, unchanged.
    const plain = tableSchema<Database>()({ table: 'events', columns: ['kind', 'at', 'note'] })
    expectTypeOf<NonNullable<(typeof plain)['__row']>>().toEqualTypeOf<
      TableRow<Database, 'events', 'kind' | 'at' | 'note'>
    >()
    // The exported definition type still takes any of its columns as required.
    const def: TableSchemaDefinition<Database, 'events', 'kind' | 'at'> = {
      table: 'events',
      columns: ['kind', 'at'],
      required: ['kind'],
    }
    expect(tableSchema<Database>()(def).columns).toEqual(['kind', 'at'])
    expect(() =>
      // @ts-expect-error: a required column must be one of the schema's columns
      tableSchema<Database>()({ table: 'events', columns: ['kind'], required: ['at'] }),
    ).toThrow(/required column "at"/)
  })

  it('rejects table and column names the Database does not have', () => {
    // @ts-expect-error: no such table
    expect(() => tableSchema<Database>()({ table: 'nope', columns: ['id'] })).not.toThrow()
    const users = tableSchema<Database>()
    // @ts-expect-error: no such column
    expect(() => users({ table: 'users', columns: ['id', 'email'] })).not.toThrow()
    // The runtime schema is a plain core schema.
    expect(tableSchema<Database>()({ table: 'users', columns: ['id', 'name'] })).toBeInstanceOf(
      defineSchema({ table: 'x', columns: ['a'] }).constructor,
    )
  })

  it('checks a row held in a variable as strictly as a literal, in every call that takes rows', () => {
    const events = tableSchema<Database>()({ table: 'events', columns: ['kind', 'at', 'note'] })
    const full: Insertable<Database['events']> = { kind: 'click', at: new Date(), note: null }
    // Wider than the row type: until 2026-11-30 the row argument also inferred the row type,
    // so these compiled (a JSON.parse'd Record committed text into an integer column).
    const partial: Partial<Insertable<Database['events']>> = { note: 'n' }
    const update: Updateable<Database['events']> = { note: 'n' }
    const parsed: Record<string, unknown> = { kind: 'click', at: 'yesterday' }
    // Type checks only (tsc runs over the tests): never called.
    const typeOnly = (batch: SqlBatchSQL<Database>) => {
      void batch.submit(events, full)
      void batch.submitMany(events, [full, { kind: 'k', at: new Date() }])
      void batch.submitAndWait(events, full)
      void batch.preview(events, [full])
      void Request.from(events, full)
      // @ts-expect-error: `kind` and `at` may be missing
      void batch.submit(events, partial)
      // @ts-expect-error: an Updateable is not an insertable row
      void batch.submitMany(events, [update])
      // @ts-expect-error: values of unknown type
      void batch.submitAndWait(events, parsed)
      // @ts-expect-error: values of unknown type
      void batch.preview(events, [parsed])
      // @ts-expect-error: values of unknown type
      void Request.from(events, parsed)
    }
    expect(typeof typeOnly).toBe('function')
  })
})
