import type { ColumnType, Value } from '@batchsql/core'

/**
 * Core values as pg binds them. bigints travel as text (pg would otherwise go through a
 * double and lose precision past 2^53); JSON documents as their text (a `json` column's
 * value is always serialised, so a JSON string "a" is stored as "a", not as a bare word).
 */
export function toPgValue(value: Value, type: ColumnType): unknown {
  if (value === null) return null
  if (type === 'json') return JSON.stringify(value)
  switch (typeof value) {
    case 'bigint':
      return value.toString()
    case 'object':
      // ISO 8601 in UTC, not the Date: pg would write it in the process's time zone, which a
      // `timestamp` (without time zone) or `date` column keeps as wall-clock time (so the value
      // stored would depend on TZ), and whole-minute offsets shift historic instants by seconds.
      // The COPY path writes the same text.
      if (value instanceof Date) return value.toISOString()
      if (value instanceof Uint8Array) return Buffer.isBuffer(value) ? value : Buffer.from(value)
      return JSON.stringify(value)
    default:
      return value
  }
}

const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' }

const NEEDS_ESCAPE = /[\\\t\n\r]/

/** One driver value in COPY's text format (NULL is `\N`; backslash escapes). */
export function copyText(v: unknown): string {
  if (v === null || v === undefined) return '\\N'
  // Most values need no escaping: test first, replace only when needed (the hot path).
  if (typeof v === 'string')
    return NEEDS_ESCAPE.test(v) ? v.replace(/[\\\t\n\r]/g, (c) => ESCAPES[c]!) : v
  if (typeof v === 'number') return String(v)
  // As pg binds it for INSERT (`true`): the same text in a text column on both paths.
  if (typeof v === 'boolean') return v ? 'true' : 'false'
  if (v instanceof Date) return v.toISOString()
  // bytea hex input `\x…`, its backslash escaped for COPY.
  if (Buffer.isBuffer(v)) return `\\\\x${v.toString('hex')}`
  return String(v)
}
