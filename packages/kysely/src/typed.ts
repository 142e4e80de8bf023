/**
 * Schemas typed by a Kysely `Database` interface: the table name must be a table of `DB`,
 * the columns must be its columns, and `submit()` type-checks each row against the table's
 * insert type (unknown column or wrong value type is a compile error).
 *
 *     const events = tableSchema<Database>()({ table: 'events', columns: ['id', 'kind'] })
 *     batch.submit(events, { id: 1, kind: 'click' })   // checked against Insertable<Database['events']>
 */
import { defineSchema, type Schema, type SchemaDefinition } from '@batchsql/core'
import type { Insertable, Updateable } from 'kysely'

/** A column of table `T` of `DB`. */
export type TableColumn<DB, T extends keyof DB> = keyof Insertable<DB[T]> & string

/**
 * A column of table `T` of `DB` that an UPDATE may set: not one Kysely types as never updated
 * (`ColumnType<S, I, never>`, say a `created_at`).
 */
export type UpdatableColumn<DB, T extends keyof DB> = keyof Updateable<DB[T]> & string

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
> = Flat<OptionalUndefined<Pick<Insertable<DB[T]>, C>>>

/**
 * An optional column also takes `undefined` ("not given", as at run time), which
 * `exactOptionalPropertyTypes` would otherwise refuse.
 */
type OptionalUndefined<O> = {
  [K in keyof O]: {} extends Pick<O, K> ? O[K] | undefined : O[K]
}

/**
 * `TableRow` with the `required` columns `R` demanded and non-null, as the schema checks at
 * `submit()` (a NOT NULL column with a default, say, that this schema must always set).
 */
export type RequiredTableRow<
  DB,
  T extends keyof DB,
  C extends TableColumn<DB, T> = TableColumn<DB, T>,
  R extends C = never,
> = [R] extends [never]
  ? TableRow<DB, T, C>
  : Flat<Omit<TableRow<DB, T, C>, R> & { [K in R]-?: NonNullable<Insertable<DB[T]>[K]> }>

/** One object type instead of an intersection (what an editor shows for a row). */
type Flat<O> = { [K in keyof O]: O[K] } & {}

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
  // Only columns Kysely lets an UPDATE set. (The default, every column but the conflict
  // columns, cannot tell: give updateColumns where the table has a never-updated column.)
  updateColumns?: readonly NoInfer<Extract<C, UpdatableColumn<DB, T>>>[]
  required?: readonly NoInfer<C>[]
}

/** What `tableSchema` infers from: the definition with its `required` columns as `R`. */
type InferredDefinition<
  DB,
  T extends keyof DB & string,
  C extends TableColumn<DB, T>,
  R extends C,
> = Omit<TableSchemaDefinition<DB, T, C>, 'required'> & { required?: readonly R[] }

/** Curried so that `DB` is given explicitly and the table and columns are inferred. */
export function tableSchema<DB>() {
  return <
    T extends keyof DB & string,
    const C extends TableColumn<DB, T>,
    const R extends NoInfer<C> = never,
  >(
    def: InferredDefinition<DB, T, C, R>,
  ): Schema<RequiredTableRow<DB, T, C, R>> =>
    // The row type is this module's (core's explicit form would only flatten it again).
    defineSchema<RequiredTableRow<DB, T, C, R>>(
      def as SchemaDefinition<RequiredTableRow<DB, T, C, R>>,
    ) as Schema<RequiredTableRow<DB, T, C, R>>
}
