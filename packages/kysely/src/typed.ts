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

/** A column of table `T` of `DB`. */
export type TableColumn<DB, T extends keyof DB> = keyof Insertable<DB[T]> & string

/**
 * The row `submit()` accepts for table `T` of `DB` through a schema of columns `C` (default:
 * every column): the table's insert type narrowed to those columns, so a column the schema
 * does not write is a compile error rather than a runtime `BATCHSQL_UNKNOWN_COLUMN`, and a
 * required column the schema leaves out (to its default) is not demanded.
 */
export type TableRow<
  DB,
  T extends keyof DB,
  C extends TableColumn<DB, T> = TableColumn<DB, T>,
> = Pick<Insertable<DB[T]>, C>

export type TableSchemaDefinition<
  DB,
  T extends keyof DB & string,
  C extends TableColumn<DB, T> = TableColumn<DB, T>,
> = Omit<
  SchemaDefinition<TableRow<DB, T, C>>,
  'table' | 'columns' | 'conflictColumns' | 'updateColumns' | 'required'
> & {
  table: T
  columns: readonly C[]
  // NoInfer: the schema's columns come from `columns` alone, so a conflict or update column
  // outside them is a compile error instead of widening them.
  conflictColumns?: readonly NoInfer<C>[]
  updateColumns?: readonly NoInfer<C>[]
  required?: readonly NoInfer<C>[]
}

/** Curried so that `DB` is given explicitly and the table and columns are inferred. */
export function tableSchema<DB>() {
  return <T extends keyof DB & string, const C extends TableColumn<DB, T>>(
    def: TableSchemaDefinition<DB, T, C>,
  ): Schema<TableRow<DB, T, C>> =>
    defineSchema<TableRow<DB, T, C>>(def as SchemaDefinition<TableRow<DB, T, C>>)
}
