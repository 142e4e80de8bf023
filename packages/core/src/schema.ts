import { ValidationError } from './errors.js'
import type { ColumnType, JsonValue, Value } from './values.js'

/**
 * What happens when a row collides with an existing one on a unique key:
 * - `insert`: nothing special; a collision fails the batch (duplicate_key).
 * - `ignore`: the existing row wins (INSERT IGNORE / ON CONFLICT DO NOTHING).
 * - `replace`: the new row replaces the existing one entirely.
 * - `update`: the existing row's `updateColumns` take the new values (upsert).
 */
export type ConflictStrategy = 'insert' | 'ignore' | 'replace' | 'update'

/**
 * How rows of one batch that share a conflict key are coalesced before writing:
 * - `last`: each column takes the last value set for it; a column a later row did not set
 *   keeps the earlier value (it is never overwritten with null). Default for update/replace.
 * - `first`: the first row is kept as given, later ones are dropped (what row-by-row
 *   `ignore` would do). Default for ignore.
 * - `none`: no coalescing (the database sees every row).
 */
export type DedupeMode = 'last' | 'first' | 'none'

/** The TypeScript value types a declared column type accepts (always nullable). */
export type ValueOf<T extends ColumnType> = T extends 'int'
  ? number | bigint | `${bigint}`
  : T extends 'bigint'
    ? bigint | number | `${bigint}`
    : T extends 'float'
      ? number
      : T extends 'decimal'
        ? string | number | bigint
        : T extends 'string'
          ? string
          : T extends 'boolean'
            ? boolean
            : T extends 'date'
              ? Date
              : T extends 'bytes'
                ? Uint8Array
                : T extends 'json'
                  ? JsonValue
                  : Value

/**
 * A row as the application submits it: every column optional, null allowed, except the
 * schema's `required` columns (`Req`), which must be set to a non-null value. An optional
 * column also takes `undefined` ("not given", as at run time) under
 * `exactOptionalPropertyTypes`.
 */
export type RowOf<Cols extends Record<string, ColumnType>, Req extends keyof Cols = never> = Flat<
  { -readonly [K in Exclude<keyof Cols, Req>]?: ValueOf<Cols[K]> | null | undefined } & {
    -readonly [K in Req]: ValueOf<Cols[K]>
  }
>

/**
 * The required columns when they are known to the compiler; a list built at run time
 * (`string[]`) names none in the row type (they are still checked at `submit()`).
 */
type Known<R extends string> = string extends R ? never : R

/** The default row type of the explicit form: no column name fits it. */
interface ExplicitRowTypeRequired {
  readonly 'pass the row type: defineSchema<Row>(...)': never
}

/** One object type instead of an intersection (what an editor shows for a row). */
type Flat<T> = { [K in keyof T]: T[K] } & {}

export type AnyRow = Record<string, unknown>

export interface SchemaDefinition<Row extends AnyRow = AnyRow> {
  /** Table (or key space) name. Quoted by the adapter, never spliced into SQL. */
  table: string
  /** Column names, or column names mapped to declared types (checked at `submit()`). */
  columns: readonly (keyof Row & string)[] | { readonly [K in keyof Row & string]: ColumnType }
  /** Default `insert`. */
  strategy?: ConflictStrategy
  /**
   * The unique key a conflict is detected on. Required for `update`; optional for `ignore`
   * and `replace` (without it BatchSQL cannot coalesce or order by key, so batches of the
   * schema are written strictly one after another).
   */
  conflictColumns?: readonly (keyof Row & string)[]
  /** Columns an `update` overwrites. Default: every column that is not a conflict column. */
  updateColumns?: readonly (keyof Row & string)[]
  /** In-batch duplicate handling for conflict strategies. Default `last`. */
  dedupe?: DedupeMode
  /** Sink-specific options (e.g. PostgreSQL's COPY path), read by adapters only. */
  adapterOptions?: Readonly<Record<string, unknown>>
  /**
   * Columns every row must set to a non-null value (the table's NOT NULL columns without a
   * default, say). A row without one is rejected at `submit()` with `BATCHSQL_MISSING_VALUE`,
   * instead of failing its batch at the database and being isolated there.
   */
  required?: readonly (keyof Row & string)[]
  /**
   * Row check run at `submit()` after the column types are checked (column-aligned values,
   * `undefined` = not given). Throw a `ValidationError` to reject the row; an adapter uses it
   * for rules column types cannot express (e.g. a Redis command's arity).
   */
  validate?: (values: readonly (Value | undefined)[]) => void
  /**
   * The conflict-handling schemas a batch of this one is ordered against; default: its
   * `table`. A batch never commits before an earlier, unfinished batch of its scope that may
   * touch the same row: compared key by key when both schemas declare the same conflict
   * columns (names and types) or both give a `keyHash`, else whole batches wait. So two
   * schemas writing one table (a full upsert and a partial one, say) keep submit order.
   * Spell one table alike in every schema (`"public.users"` and `"users"` are two scopes).
   */
  orderScope?: string
  /**
   * Adapter hook: a 32-bit hash of the row's key as the sink sees it (the row's values start
   * at `base`), `undefined` for a row without one. Schemas of one `orderScope` that all give
   * it compare keys by it, whatever their columns: the Redis adapter hashes the prefixed key
   * as Redis receives it, so its `set` and `del` schemas order against each other.
   */
  keyHash?: (values: readonly (Value | undefined)[], base: number) => number | undefined
}

/** Every `SchemaDefinition` key: another one is a misspelling (`conflictColumn`), refused. */
const DEFINITION_KEYS: ReadonlySet<string> = new Set([
  'table',
  'columns',
  'strategy',
  'conflictColumns',
  'updateColumns',
  'dedupe',
  'adapterOptions',
  'required',
  'validate',
  'orderScope',
  'keyHash',
] satisfies (keyof SchemaDefinition)[])

// Identifiers are quoted by adapters, so anything printable is allowed; we only refuse what
// no database accepts: empty names, NUL, and names over 63 bytes (PostgreSQL's limit, past
// which it would truncate the name without a word).
function checkName(kind: string, name: unknown, table?: string): string {
  const where = table === undefined ? '' : ` in table "${table}"`
  if (typeof name !== 'string' || name.length === 0) {
    throw new ValidationError(
      'BATCHSQL_INVALID_SCHEMA',
      `${kind} name must be a non-empty string${where}`,
      {
        table,
      },
    )
  }
  if (name.includes('\0')) {
    throw new ValidationError(
      'BATCHSQL_INVALID_SCHEMA',
      `${kind} name contains a NUL character${where}`,
      {
        table,
      },
    )
  }
  // A lone surrogate cannot be sent as UTF-8: the driver would write U+FFFD, another name.
  if (!name.isWellFormed()) {
    throw new ValidationError(
      'BATCHSQL_INVALID_SCHEMA',
      `${kind} name contains a lone UTF-16 surrogate${where}`,
      { table },
    )
  }
  // A table name "a.b" is schema "a", table "b" to the SQL adapters (Kysely splits it): the
  // limit is on each part, and no part may be empty ("a..b", "x.", ".").
  const parts = kind === 'table' ? name.split('.') : [name]
  if (parts.some((part) => part.length === 0)) {
    throw new ValidationError(
      'BATCHSQL_INVALID_SCHEMA',
      `${kind} name "${name}" has an empty part between dots (schema.table)${where}`,
      { table },
    )
  }
  if (parts.some((part) => Buffer.byteLength(part) > 63)) {
    throw new ValidationError(
      'BATCHSQL_INVALID_SCHEMA',
      `${kind} name "${name}" is longer than 63 bytes${where}`,
      {
        table,
      },
    )
  }
  return name
}

const VALID_TYPES = new Set<ColumnType>([
  'any',
  'int',
  'bigint',
  'float',
  'decimal',
  'string',
  'boolean',
  'date',
  'bytes',
  'json',
])

let nextSchemaId = 1

/**
 * A table's shape and conflict handling. Immutable once defined; all names are validated
 * here so that a typo fails at start-up, not as a silently collapsed batch later.
 */
export class Schema<Row extends AnyRow = AnyRow> {
  /** Unique per process; batches are grouped by it. */
  readonly id: number
  readonly table: string
  readonly columns: readonly string[]
  readonly types: readonly ColumnType[]
  readonly strategy: ConflictStrategy
  readonly conflictColumns: readonly string[]
  readonly updateColumns: readonly string[]
  /** Positions of `conflictColumns` in `columns`. */
  readonly conflictIndexes: readonly number[]
  readonly updateIndexes: readonly number[]
  readonly dedupe: DedupeMode
  readonly adapterOptions: Readonly<Record<string, unknown>>
  /** The definition's row check, if any; see `SchemaDefinition.validate`. */
  readonly validate: ((values: readonly (Value | undefined)[]) => void) | undefined
  /** See `SchemaDefinition.orderScope`: the table unless given. */
  readonly orderScope: string
  /** See `SchemaDefinition.keyHash`. */
  readonly keyHash:
    | ((values: readonly (Value | undefined)[], base: number) => number | undefined)
    | undefined
  /**
   * @internal What makes two schemas' conflict keys comparable in one `orderScope`: `#hash`
   * for a `keyHash`, else the conflict columns with their types; `''` without conflict
   * columns (its batches are ordered whole).
   */
  readonly keySignature: string
  /** Column name to position; a null-prototype object is the fastest lookup on the hot path. */
  readonly indexOf: Readonly<Record<string, number>>
  /**
   * @internal A row with no column set; a Request starts as a copy of it (copying a packed
   * array is about twice as fast as `new Array(n).fill()`, and every submitted row does it).
   */
  readonly blank: readonly undefined[]
  /**
   * @internal The order the last rows listed their keys in, with each key's position: rows
   * built by one piece of code list their keys alike, and comparing a key with the one seen
   * at the same place is cheaper than looking it up in `indexOf` (~15 ns a narrow row, ~30 ns
   * a 20-column one). Only a cache: a miss is a lookup.
   */
  readonly keyLayout: { readonly names: string[]; readonly indexes: number[] } = {
    names: [],
    indexes: [],
  }
  declare readonly __row?: Row

  constructor(def: SchemaDefinition<Row>) {
    if (typeof def !== 'object' || def === null) {
      throw new ValidationError('BATCHSQL_INVALID_SCHEMA', 'schema definition must be an object')
    }
    for (const key of Object.keys(def))
      if (!DEFINITION_KEYS.has(key))
        throw new ValidationError(
          'BATCHSQL_INVALID_SCHEMA',
          `unknown schema option "${key}" (${[...DEFINITION_KEYS].join(', ')})`,
        )
    this.id = nextSchemaId++
    this.table = checkName('table', def.table)
    const table = this.table
    const entries: [string, ColumnType][] = Array.isArray(def.columns)
      ? (def.columns as string[]).map((c) => [c, 'any'])
      : Object.entries((def.columns ?? {}) as Record<string, ColumnType>)
    if (entries.length === 0) {
      throw new ValidationError('BATCHSQL_INVALID_SCHEMA', `table "${table}" has no columns`, {
        table,
      })
    }
    const indexOf: Record<string, number> = Object.create(null)
    entries.forEach(([name, type], i) => {
      checkName('column', name, table)
      if (name in indexOf) {
        throw new ValidationError(
          'BATCHSQL_INVALID_SCHEMA',
          `column "${name}" appears twice in table "${table}"`,
          {
            table,
            column: name,
          },
        )
      }
      if (!VALID_TYPES.has(type)) {
        throw new ValidationError(
          'BATCHSQL_INVALID_SCHEMA',
          // The given type is schema code, not row data: quoting it (when short) is safe.
          `column "${name}" of table "${table}" has unknown type${
            typeof type === 'string' && type.length <= 32 ? ` "${type}"` : ''
          }; expected one of ${[...VALID_TYPES].join(', ')}`,
          {
            table,
            column: name,
          },
        )
      }
      indexOf[name] = i
    })
    this.indexOf = Object.freeze(indexOf)
    this.columns = Object.freeze(entries.map(([n]) => n))
    this.types = Object.freeze(entries.map(([, t]) => t))
    // Not frozen: slicing a frozen array is ~15x slower in V8 (it leaves the fast path).
    this.blank = entries.map(() => undefined)

    const strategy = def.strategy ?? 'insert'
    if (!['insert', 'ignore', 'replace', 'update'].includes(strategy)) {
      throw new ValidationError(
        'BATCHSQL_INVALID_SCHEMA',
        `table "${table}": unknown conflict strategy`,
        { table },
      )
    }
    this.strategy = strategy
    const known = (list: readonly string[] | undefined, what: string): string[] => {
      // A plain JavaScript caller may pass one name as a string: without this check it
      // escaped as a bare TypeError ("map is not a function").
      if (list !== undefined && !Array.isArray(list)) {
        throw new ValidationError(
          'BATCHSQL_INVALID_SCHEMA',
          `table "${table}": ${what}s must be an array of column names`,
          { table },
        )
      }
      return (list ?? []).map((c) => {
        if (!(c in indexOf)) {
          throw new ValidationError(
            'BATCHSQL_INVALID_SCHEMA',
            `${what} "${c}" is not a column of table "${table}"`,
            {
              table,
              column: c,
            },
          )
        }
        return c
      })
    }
    const conflict = known(def.conflictColumns, 'conflict column')
    if (new Set(conflict).size !== conflict.length) {
      throw new ValidationError(
        'BATCHSQL_INVALID_SCHEMA',
        `table "${table}": conflict column listed twice`,
        { table },
      )
    }
    if (strategy === 'update' && conflict.length === 0) {
      throw new ValidationError(
        'BATCHSQL_INVALID_SCHEMA',
        `table "${table}": strategy "update" needs conflictColumns`,
        {
          table,
        },
      )
    }
    if (strategy === 'insert' && conflict.length > 0) {
      throw new ValidationError(
        'BATCHSQL_INVALID_SCHEMA',
        `table "${table}": conflictColumns given with strategy "insert"; choose ignore, replace or update`,
        { table },
      )
    }
    let update = known(def.updateColumns, 'update column')
    if (strategy !== 'update' && update.length > 0) {
      throw new ValidationError(
        'BATCHSQL_INVALID_SCHEMA',
        `table "${table}": updateColumns need strategy "update"`,
        {
          table,
        },
      )
    }
    if (strategy === 'update') {
      // An empty list (one computed from config, say) is not "every other column", which
      // would overwrite what the caller meant to keep, nor silently "update nothing".
      if (def.updateColumns !== undefined && update.length === 0)
        throw new ValidationError(
          'BATCHSQL_INVALID_SCHEMA',
          `table "${table}": updateColumns is empty: list at least one, leave it out for every non-conflict column, or use strategy "ignore"`,
          { table },
        )
      if (update.length === 0) update = this.columns.filter((c) => !conflict.includes(c))
      const overlap = update.find((c) => conflict.includes(c))
      if (overlap !== undefined) {
        throw new ValidationError(
          'BATCHSQL_INVALID_SCHEMA',
          `table "${table}": "${overlap}" is both a conflict and an update column`,
          {
            table,
            column: overlap,
          },
        )
      }
      if (update.length === 0) {
        throw new ValidationError(
          'BATCHSQL_INVALID_SCHEMA',
          `table "${table}": nothing to update besides the conflict columns`,
          {
            table,
          },
        )
      }
    }
    this.conflictColumns = Object.freeze(conflict)
    this.updateColumns = Object.freeze(update)
    this.conflictIndexes = Object.freeze(conflict.map((c) => indexOf[c]!))
    this.updateIndexes = Object.freeze(update.map((c) => indexOf[c]!))
    const dedupe =
      def.dedupe ?? (strategy === 'insert' ? 'none' : strategy === 'ignore' ? 'first' : 'last')
    if (!['last', 'first', 'none'].includes(dedupe)) {
      throw new ValidationError(
        'BATCHSQL_INVALID_SCHEMA',
        `table "${table}": unknown dedupe mode`,
        { table },
      )
    }
    this.dedupe = dedupe
    this.adapterOptions = Object.freeze({ ...(def.adapterOptions ?? {}) })
    if (def.validate !== undefined && typeof def.validate !== 'function') {
      throw new ValidationError(
        'BATCHSQL_INVALID_SCHEMA',
        `table "${table}": validate must be a function`,
        {
          table,
        },
      )
    }
    if (def.keyHash !== undefined && typeof def.keyHash !== 'function') {
      throw new ValidationError(
        'BATCHSQL_INVALID_SCHEMA',
        `table "${table}": keyHash must be a function`,
        { table },
      )
    }
    if (def.keyHash !== undefined && conflict.length === 0) {
      throw new ValidationError(
        'BATCHSQL_INVALID_SCHEMA',
        `table "${table}": keyHash needs conflictColumns`,
        { table },
      )
    }
    this.keyHash = def.keyHash
    if (
      def.orderScope !== undefined &&
      (typeof def.orderScope !== 'string' || def.orderScope.length === 0)
    ) {
      throw new ValidationError(
        'BATCHSQL_INVALID_SCHEMA',
        `table "${table}": orderScope must be a non-empty string`,
        { table },
      )
    }
    this.orderScope = def.orderScope ?? table
    this.keySignature =
      def.keyHash !== undefined
        ? '#hash'
        : this.conflictIndexes.map((i) => `${this.columns[i]}:${this.types[i]}`).join('\0')
    const required = known(def.required as readonly string[] | undefined, 'required column').map(
      (c) => indexOf[c]!,
    )
    const own = def.validate
    // An integer past 2^53 given as a number in an untyped key column (a Kysely-typed schema's
    // columns are untyped) is not the key it looks like: BatchSQL would compare it exactly
    // (2 ** 60 is 1152921504606846976n) while pg and mysql2 send its shortest decimal text
    // (1152921504606847000), so two rows the server keeps apart were merged into one, or a later
    // write lost to an earlier one (QA 2026-11-29). Typed integer columns refuse it already.
    const untypedKeys = this.conflictIndexes.filter((i) => this.types[i] === 'any')
    const checks =
      untypedKeys.length === 0
        ? own
        : (values: readonly (Value | undefined)[]) => {
            for (const i of untypedKeys) {
              const v = values[i]
              // Only where an integer column could hold it (int64): past it the column is a
              // float one, which stores exactly the double sent (1e20 as 1e20).
              if (
                typeof v === 'number' &&
                !Number.isSafeInteger(v) &&
                Number.isInteger(v) &&
                Math.abs(v) < 2 ** 63
              ) {
                const column = this.columns[i]!
                throw new ValidationError(
                  'BATCHSQL_TYPE_MISMATCH',
                  `column "${column}" of table "${table}" is a conflict column: an integer past 2^53 as a number is not exact (drivers send it rounded); give it as a bigint or a string, or, for a float column, declare the column 'float' (defineSchema)`,
                  { table, column },
                )
              }
            }
            own?.(values)
          }
    this.validate =
      required.length === 0
        ? checks
        : (values) => {
            for (const i of required) {
              if (values[i] === undefined || values[i] === null) {
                const column = this.columns[i]!
                throw new ValidationError(
                  'BATCHSQL_MISSING_VALUE',
                  `column "${column}" of table "${table}" is required (not set, or null)`,
                  { table, column },
                )
              }
            }
            checks?.(values)
          }
    Object.freeze(this)
  }

  /** True when rows can collide with existing rows and the order of batches matters. */
  get hasConflictHandling(): boolean {
    return this.strategy !== 'insert'
  }
}

/** Column list form: every column accepts any supported value; `required` ones must be set. */
export function defineSchema<const C extends readonly string[], const R extends C[number] = never>(
  def: Omit<SchemaDefinition<Record<C[number], Value>>, 'columns' | 'required'> & {
    columns: C
    required?: readonly R[]
  },
): Schema<
  Flat<
    { [K in Exclude<C[number], Known<R>>]?: Value | undefined } & {
      [K in Known<R>]: NonNullable<Value>
    }
  >
>
/** Typed form: values are checked against each column's declared type at `submit()`. */
export function defineSchema<
  const C extends Record<string, ColumnType>,
  const R extends keyof C & string = never,
>(
  def: Omit<SchemaDefinition<RowOf<C>>, 'columns' | 'required'> & {
    columns: C
    required?: readonly R[]
  },
): Schema<RowOf<C, Known<R>>>
/**
 * Explicit row type, e.g. `defineSchema<EventRow>({...})` with an interface of yours whose
 * properties are exactly the columns (rows are typed by the whole interface). For a Kysely
 * table type use `tableSchema()` of `@batchsql/kysely`: it types rows by the listed columns'
 * insert types. Only with the type argument given: without one, a definition the two
 * forms above refuse (a misspelt conflict column, say) would otherwise land here, typed as
 * any row at all.
 */
export function defineSchema<Row extends object = ExplicitRowTypeRequired>(
  def: SchemaDefinition<Flat<Row>>,
): Schema<Flat<Row>>
export function defineSchema(def: SchemaDefinition<AnyRow>): Schema<AnyRow> {
  return new Schema(def)
}
