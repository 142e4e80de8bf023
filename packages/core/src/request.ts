import { ValidationError } from './errors.js'
import { setOwnProperty } from './own-property.js'
import { readRow, typedError } from './read-row.js'
import type { AnyRow, Schema } from './schema.js'
import { type ColumnType, copyValue, type JsonValue, type Value } from './values.js'

/** Settles an acknowledged submit; attached only by `submitAndWait()`. */
export interface Ack {
  resolve(): void
  reject(err: unknown): void
}

/**
 * The columns of `Row` that take a `V`: a setter for another type does not compile (a
 * `setInt` on a text column of a typed schema, a `setNull` on a required one). Untyped rows
 * (column lists, `AnyRow`) take anything, as before.
 */
export type ColumnFor<Row, V> = {
  [K in keyof Row & string]-?: V extends Row[K] ? K : never
}[keyof Row & string]

/**
 * One row bound to its schema. Values are stored by column position; a position left
 * `undefined` was not given, while `null` was set to null explicitly — adapters use the
 * difference (e.g. an upsert does not overwrite a column the row did not set).
 *
 * Build one with the typed setters, or let `submit(schema, object)` build it from a plain
 * object. Every value is validated and copied when it is set.
 */
export class Request<Row extends AnyRow = AnyRow> {
  readonly schema: Schema<Row>
  /** Column-aligned values. Read-only for adapters. */
  readonly values: (Value | undefined)[]
  /** @internal set by the pipeline for acknowledged submits */
  ack: Ack | undefined = undefined

  constructor(schema: Schema<Row>) {
    if (!(schema && typeof schema === 'object' && 'indexOf' in schema)) {
      throw new ValidationError(
        'BATCHSQL_MISSING_SCHEMA',
        'a Request needs a schema from defineSchema()',
      )
    }
    this.schema = schema
    this.values = schema.blank.slice()
  }

  /** Builds a request from a plain object; `undefined` properties count as not given. */
  static from<R extends AnyRow>(schema: Schema<R>, row: NoInfer<R>): Request<R> {
    // `this`, not `Request`: see BatchFailedError.outcomeUnknown (the bundler would rename it).
    const req = new this(schema) as Request<R>
    try {
      readRow(schema, row, req.values, 0)
    } catch (err) {
      // A getter or proxy of the caller's that threw: typed, as submit() reports it.
      throw typedError(err)
    }
    return req
  }

  private index(column: string): number {
    const i = this.schema.indexOf[column]
    if (i === undefined) {
      throw new ValidationError(
        'BATCHSQL_UNKNOWN_COLUMN',
        `unknown column "${column}" for table "${this.schema.table}"`,
        {
          table: this.schema.table,
          column,
        },
      )
    }
    return i
  }

  private put(column: string, v: unknown, as: ColumnType): this {
    const i = this.index(column)
    const declared = this.schema.types[i]!
    // The setter's own type is checked first, then the column's declared type.
    copyValue(v, as, this.schema.table, column)
    this.values[i] = copyValue(v, declared === 'any' ? as : declared, this.schema.table, column)
    return this
  }

  setInt(column: ColumnFor<Row, number>, v: number | bigint): this {
    return this.put(column, v, 'int')
  }
  setBigInt(column: ColumnFor<Row, bigint>, v: bigint | number | string): this {
    // Checked as the plain-object path checks it (a safe integer, an integer string), not by
    // BigInt(), whose SyntaxError / RangeError are untyped and quote the value.
    const checked = copyValue(v, 'bigint', this.schema.table, column)
    // Stored as a bigint whatever it was given as (a number would bind as REAL on SQLite).
    return this.put(column, typeof checked === 'number' ? BigInt(checked) : checked, 'bigint')
  }
  setFloat(column: ColumnFor<Row, number>, v: number): this {
    return this.put(column, v, 'float')
  }
  setDecimal(column: ColumnFor<Row, string>, v: string): this {
    return this.put(column, v, 'decimal')
  }
  setString(column: ColumnFor<Row, string>, v: string): this {
    return this.put(column, v, 'string')
  }
  setBoolean(column: ColumnFor<Row, boolean>, v: boolean): this {
    return this.put(column, v, 'boolean')
  }
  setDate(column: ColumnFor<Row, Date>, v: Date): this {
    return this.put(column, v, 'date')
  }
  setBytes(column: ColumnFor<Row, Uint8Array>, v: Uint8Array): this {
    return this.put(column, v, 'bytes')
  }
  setJSON(column: keyof Row & string, v: JsonValue): this {
    const i = this.index(column)
    const type = this.schema.types[i]!
    if (type !== 'any' && type !== 'json') copyValue(v, type, this.schema.table, column)
    // Only a `json` column tells the adapter to serialise: an `any` column sends a string as
    // plain text, so the document "123" would reach a jsonb column as the number 123.
    if (type === 'any' && typeof v === 'string')
      throw new ValidationError(
        'BATCHSQL_TYPE_MISMATCH',
        `column "${column}" of table "${this.schema.table}" is untyped: a string JSON document needs a 'json' column`,
        { table: this.schema.table, column },
      )
    this.values[i] = copyValue(v, 'json', this.schema.table, column)
    return this
  }
  setNull(column: ColumnFor<Row, null>): this {
    this.values[this.index(column)] = null
    return this
  }
  /** Forgets a value: the column becomes "not given" again. */
  unset(column: keyof Row & string): this {
    this.values[this.index(column)] = undefined
    return this
  }

  /** Whether the column was given a value (null included). */
  isSet(column: keyof Row & string): boolean {
    return this.values[this.index(column)] !== undefined
  }
  /** Whether the column was explicitly set to null. */
  isNull(column: keyof Row & string): boolean {
    return this.values[this.index(column)] === null
  }
  /** Names of the columns that were given a value, in schema order. */
  setColumns(): string[] {
    return this.schema.columns.filter((_, i) => this.values[i] !== undefined)
  }
  get(column: keyof Row & string): Value | undefined {
    return this.values[this.index(column)]
  }

  private read<T>(
    column: string,
    check: (v: Value) => boolean,
    want: string,
  ): T | null | undefined {
    const v = this.values[this.index(column)]
    if (v === undefined || v === null) return v
    if (!check(v)) {
      throw new ValidationError(
        'BATCHSQL_TYPE_MISMATCH',
        `column "${column}" of table "${this.schema.table}" does not hold ${want}`,
        {
          table: this.schema.table,
          column,
        },
      )
    }
    return v as T
  }
  getInt(column: keyof Row & string): number | null | undefined {
    return this.read(column, (v) => typeof v === 'number' && Number.isInteger(v), 'an int')
  }
  getBigInt(column: keyof Row & string): bigint | null | undefined {
    const v = this.read<bigint | number>(
      column,
      (v) => typeof v === 'bigint' || Number.isInteger(v),
      'an integer',
    )
    return typeof v === 'number' ? BigInt(v) : v
  }
  getFloat(column: keyof Row & string): number | null | undefined {
    return this.read(column, (v) => typeof v === 'number', 'a number')
  }
  getString(column: keyof Row & string): string | null | undefined {
    return this.read(column, (v) => typeof v === 'string', 'a string')
  }
  getBoolean(column: keyof Row & string): boolean | null | undefined {
    return this.read(column, (v) => typeof v === 'boolean', 'a boolean')
  }
  getDate(column: keyof Row & string): Date | null | undefined {
    const d = this.read<Date>(column, (v) => v instanceof Date, 'a Date')
    return d ? new Date(d.getTime()) : d
  }
  getBytes(column: keyof Row & string): Uint8Array | null | undefined {
    const b = this.read<Uint8Array>(column, (v) => v instanceof Uint8Array, 'bytes')
    return b ? new Uint8Array(b) : b
  }
  getJSON(column: keyof Row & string): JsonValue | null | undefined {
    const v = this.values[this.index(column)]
    return v === undefined || v instanceof Date || v instanceof Uint8Array || typeof v === 'bigint'
      ? this.read(column, () => false, 'JSON')
      : (structuredClone(v) as JsonValue)
  }

  /** The row as a plain object of the columns that were set (a copy). */
  toObject(): Partial<Row> {
    const out: Record<string, unknown> = {}
    this.schema.columns.forEach((c, i) => {
      const v = this.values[i]
      if (v !== undefined) setOwnProperty(out, c, v)
    })
    return out as Partial<Row>
  }
}

/**
 * A submitted Request is copied so that later calls on the caller's object change nothing:
 * setters, and mutating a Date, bytes or JSON document that `get()` returned (those are
 * copied again, and checked again, which also catches a Date set to NaN that way).
 */
export function copyRequest(src: Request): Request {
  const { schema } = src
  const r = new Request(schema)
  let set = 0
  for (let i = 0; i < src.values.length; i++) {
    const v = src.values[i]
    // Every value checked again, primitives too: `values` is a public array a caller can
    // write to directly (a NaN there was written as NULL, 10.5 in an int key rounded).
    r.values[i] =
      v === undefined ? v : copyValue(v, schema.types[i]!, schema.table, schema.columns[i]!)
    if (v !== undefined) set++
  }
  if (set === 0) {
    throw new ValidationError(
      'BATCHSQL_EMPTY_ROW',
      `row for table "${src.schema.table}" sets no column`,
      {
        table: src.schema.table,
      },
    )
  }
  src.schema.validate?.(r.values)
  return r
}
