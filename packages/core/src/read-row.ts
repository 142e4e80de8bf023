import { ValidationError } from './errors.js'
import type { AnyRow, Schema } from './schema.js'
import { copyValue, type Value } from './values.js'

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
      'BATCHSQL_EMPTY_ROW',
      `row for table "${schema?.table}" must be an object`,
      { table: schema?.table },
    )
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
    // Strings and finite numbers in columns that take them as they are need no copy: decide
    // those inline (most values of most rows) and leave everything else to copyValue.
    const type = types[i]!
    const t = typeof v
    out[base + i] =
      (t === 'string' && (type === 'any' || type === 'string')) ||
      (t === 'number' && (type === 'any' || type === 'float') && Number.isFinite(v))
        ? (v as string | number)
        : copyValue(v, type, table, name)
    set++
  }
  if (set === 0) {
    throw new ValidationError('BATCHSQL_EMPTY_ROW', `row for table "${table}" sets no column`, {
      table,
    })
  }
  // The hook sees exactly the row: the array itself when it holds nothing else.
  schema.validate?.(base === 0 && out.length === width ? out : out.slice(base, base + width))
}
