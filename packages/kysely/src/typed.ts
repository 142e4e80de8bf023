/**
 * Schemas typed by a Kysely `Database` interface: the table name must be a table of `DB`,
 * the columns must be its columns, and `submit()` type-checks each row against the table's
 * insert type (unknown column or wrong value type is a compile error).
 *
 *     const events = tableSchema<Database>()({ table: 'events', columns: ['id', 'kind'] })
 *     batch.submit(events, { id: 1, kind: 'click' })   // checked against Insertable<Database['events']>
 */
import { defineSchema, type Schema, type SchemaDefinition } from '@batchsql/core'
import type { Insertable } from 'kysely'

/** The row `submit()` accepts for table `T` of `DB`. */
export type TableRow<DB, T extends keyof DB> = Insertable<DB[T]>

export type TableSchemaDefinition<DB, T extends keyof DB & string> = Omit<
  SchemaDefinition<TableRow<DB, T>>,
  'table' | 'columns'
> & {
  table: T
  columns: readonly (keyof Insertable<DB[T]> & string)[]
}

/** Curried so that `DB` is given explicitly and the table name is inferred. */
export function tableSchema<DB>() {
  return <T extends keyof DB & string>(
    def: TableSchemaDefinition<DB, T>,
  ): Schema<TableRow<DB, T>> =>
    defineSchema<TableRow<DB, T>>(def as SchemaDefinition<TableRow<DB, T>>)
}
