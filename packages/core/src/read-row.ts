import { BatchSQLError, ValidationError } from './errors.js'
import type { AnyRow, Schema } from './schema.js'
import { type ColumnType, copyValue, type Value } from './values.js'

/**
 * Validates a plain-object row and copies its values, column-aligned, into
 * `out[base .. base + columns)`; a column the row does not set is left as it is (undefined).
 * Then runs the schema's `validate` hook on the row's values. Shared by `Request.from()` (one
 * array per row) and the pipeline's buffer (one array for many rows). On a throw, `out` may
 * hold part of the row: the caller discards it.
 *
 * Hot path: runs for every submitted row.
 */
export function readRow(
  schema: Schema,
  row: AnyRow,
  out: (Value | undefined)[],
  base: number,
): void {
  if (row === null || typeof row !== 'object') {
    throw new ValidationError(
      'BATCHSQL_INVALID_ROW',
      `row for table "${schema?.table}" must be an object`,
      { table: schema?.table },
    )
  }
  // Not Object.getPrototypeOf(): a monomorphic property load costs a tenth of it here. A row
  // without Object as its constructor (a class instance, Object.create(null), a row with a
  // column named "constructor") is read column by column, which is right for all of them.
  if (row.constructor !== Object) {
    readInstance(schema, row, out, base)
    return
  }
  const { indexOf, types, table, keyLayout } = schema
  const { names, indexes } = keyLayout
  const width = types.length
  let set = 0
  let k = 0
  for (const name in row) {
    let i: number | undefined
    if (name === names[k]) {
      i = indexes[k]
    } else {
      i = indexOf[name]
      if (i !== undefined && k < width) {
        names[k] = name
        indexes[k] = i
      }
    }
    k++
    const v = row[name]
    if (v === undefined) continue
    if (i === undefined) {
      throw new ValidationError(
        'BATCHSQL_UNKNOWN_COLUMN',
        `unknown column "${name}" for table "${table}"`,
        { table, column: name },
      )
    }
    out[base + i] = readValue(v, types[i]!, table, name)
    set++
  }
  finish(schema, set, out, base)
}

/**
 * Strings and finite numbers in columns that take them as they are need no copy: decided
 * inline (most values of most rows), everything else left to copyValue. A string must be
 * well-formed UTF-16: a lone surrogate would reach the database as U+FFFD without a word.
 */
function readValue(v: unknown, type: ColumnType, table: string, column: string): Value {
  const t = typeof v
  if (t === 'string' && (type === 'any' || type === 'string')) {
    if (!(v as string).isWellFormed()) return copyValue(v, type, table, column)
    return v as string
  }
  if (t === 'number' && (type === 'any' || type === 'float') && Number.isFinite(v))
    return (v as number) === 0 ? 0 : (v as number) // -0 as 0: see copyValue
  return copyValue(v, type, table, column)
}

function finish(schema: Schema, set: number, out: (Value | undefined)[], base: number): void {
  const width = schema.types.length
  if (set === 0) {
    throw new ValidationError(
      'BATCHSQL_EMPTY_ROW',
      `row for table "${schema.table}" sets no column`,
      { table: schema.table },
    )
  }
  // The hook sees exactly the row: the array itself when it holds nothing else.
  schema.validate?.(base === 0 && out.length === width ? out : out.slice(base, base + width))
}

/**
 * A row that is not a plain object (a class instance, an object with a prototype of its
 * own): read column by column, so values its class provides through getters or its
 * prototype are seen (a `for…in` would miss getters and read inherited fields that are not
 * columns); its own enumerable fields must still all be columns. Arrays, Maps and the like
 * are not rows.
 */
function readInstance(schema: Schema, row: AnyRow, out: (Value | undefined)[], base: number): void {
  const { indexOf, types, table, columns } = schema
  if (Array.isArray(row) || row instanceof Map || row instanceof Set || ArrayBuffer.isView(row)) {
    throw new ValidationError(
      'BATCHSQL_INVALID_ROW',
      `row for table "${table}" must be an object of columns, not a ${row.constructor.name}`,
      { table },
    )
  }
  for (const name of Object.keys(row)) {
    if (indexOf[name] === undefined && row[name] !== undefined) {
      throw new ValidationError(
        'BATCHSQL_UNKNOWN_COLUMN',
        `unknown column "${name}" for table "${table}"`,
        { table, column: name },
      )
    }
  }
  let set = 0
  for (let i = 0; i < columns.length; i++) {
    const name = columns[i]!
    const v = row[name]
    // An inherited method is no column value: a column named like one (toString, constructor)
    // that the row does not set would otherwise read the method. Nor is the prototype, which
    // a column named "__proto__" reads then (an object: a json column stored it as `{}`).
    if (
      v === undefined ||
      ((typeof v === 'function' || name === '__proto__') && !Object.hasOwn(row, name))
    )
      continue
    out[base + i] = readValue(v, types[i]!, table, name)
    set++
  }
  finish(schema, set, out, base)
}

/**
 * What reading a row threw, as a typed error: a getter, `toJSON()` or proxy trap of the
 * caller's, or a `validate` hook that threw a plain Error. Its message is not repeated (it
 * may quote the value); it stays reachable as `cause`.
 */
export function typedError(err: unknown): unknown {
  if (err instanceof BatchSQLError) return err
  return new ValidationError(
    'BATCHSQL_UNSUPPORTED_VALUE',
    `the row could not be read: reading it threw ${err instanceof Error ? err.name : typeof err}`,
    { cause: err },
  )
}
