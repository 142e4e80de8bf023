import type { ColumnType, Value } from '@batchsql/core'

/**
 * Core values as better-sqlite3 binds them. SQLite has no boolean, date or JSON type:
 * booleans are 1/0, dates ISO 8601 text in UTC with milliseconds (sorts and compares as
 * text, and SQLite's date functions read it), JSON is its text. Decimals stay strings so no
 * precision is lost (declare the column TEXT: a NUMERIC column would round them to a double).
 */
export function toSqliteValue(value: Value, type: ColumnType): unknown {
  // A string or number in a JSON column is a JSON document too: stored as its JSON text.
  if (type === 'json' && value !== null) return JSON.stringify(value)
  switch (typeof value) {
    case 'boolean':
      // As bigints: better-sqlite3 binds a number as REAL, which an untyped or TEXT column keeps
      // (1.0, "1.0"); a bigint is bound as INTEGER.
      return value ? 1n : 0n
    case 'object':
      if (value === null) return null
      if (value instanceof Date) return value.toISOString()
      if (value instanceof Uint8Array) return Buffer.isBuffer(value) ? value : Buffer.from(value)
      return JSON.stringify(value)
    default:
      return value
  }
}
