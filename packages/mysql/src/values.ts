import type { ColumnType, Value } from '@batchsql/core'

const pad = (n: number, w = 2) => String(n).padStart(w, '0')

/**
 * `YYYY-MM-DD HH:MM:SS.mmm` in UTC: what DATETIME(3) / TIMESTAMP(3) parse, whatever the pool's
 * timezone. The year always has 4 digits: the server reads a 2-digit year `50` as 2050 (its
 * 2-digit-year rule), so year 50 is written `0050`. Core accepts years 1–9999 only.
 */
export function mysqlDateTime(d: Date): string {
  return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}`
}

/**
 * Core values as mysql2 escapes them. Dates become UTC text, so the stored value never
 * depends on the connection's `timezone` setting (store UTC, read with `timezone: 'Z'` or
 * `dateStrings`); booleans 1/0; bigints their exact decimal text; JSON documents their text.
 */
export function toMysqlValue(value: Value, type: ColumnType): unknown {
  if (value === null) return null
  if (type === 'json') return JSON.stringify(value)
  switch (typeof value) {
    case 'boolean':
      return value ? 1 : 0
    case 'bigint':
      return value.toString()
    case 'object':
      if (value instanceof Date) return mysqlDateTime(value)
      if (value instanceof Uint8Array) return Buffer.isBuffer(value) ? value : Buffer.from(value)
      return JSON.stringify(value)
    default:
      return value
  }
}
