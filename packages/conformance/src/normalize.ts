/**
 * Drivers return the same stored value in different JavaScript forms (PostgreSQL `true`,
 * MySQL `1`; a Date or an ISO string; a JSON object or its text). The suite compares
 * canonical forms, so a test fails on a wrong value, never on a driver's representation.
 */
import type { ColumnDdl } from './target.js'

/**
 * `jsonText`: a string read from a JSON column is the document's text (drivers that return
 * JSON unparsed) rather than a JSON string document. Never guessed per value: a driver that
 * parses JSON and reads back a string has a double-encoded document, which must not compare
 * equal to the object written.
 */
export function canonical(type: keyof ColumnDdl, v: unknown, jsonText = false): unknown {
  if (v === null || v === undefined) return null
  switch (type) {
    case 'int':
    case 'bigint':
      return BigInt(v as string | number | bigint).toString()
    case 'float':
      return Number(v)
    case 'decimal': {
      // Strip trailing zeros of the scale: 1.5000 and 1.5 are the same decimal.
      const s = String(v)
      return s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s
    }
    case 'boolean':
      // What drivers return for a boolean column: true/false, 1/0 (MySQL, SQLite), 't'/'f'
      // (PostgreSQL's text). Anything else is a wrong stored value (the text 'true' in an
      // INTEGER column finds no row in `WHERE flag`): kept as it is, so it compares unequal.
      if (v === true || v === 1 || v === 1n || v === '1' || v === 't') return true
      if (v === false || v === 0 || v === 0n || v === '0' || v === 'f') return false
      return { notABoolean: v }
    case 'date':
      return (
        v instanceof Date ? v : new Date(String(v).replace(' ', 'T').replace(/(\d)$/, '$1Z'))
      ).getTime()
    case 'bytes':
      return Buffer.from(v as Uint8Array).toString('hex')
    case 'json':
      return jsonText && typeof v === 'string' ? JSON.parse(v) : v
    default:
      return typeof v === 'string' ? v : Buffer.isBuffer(v) ? v.toString('utf8') : String(v)
  }
}
