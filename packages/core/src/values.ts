import { ValidationError } from './errors.js'

/** A JSON document: what a `json` column holds. */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | JsonValue[]
  | { [key: string]: JsonValue }

/**
 * Every value a row may carry. `undefined` is not a value: a column left undefined is
 * "not given", which adapters keep apart from an explicit `null`.
 */
export type Value =
  | null
  | number
  | bigint
  | string
  | boolean
  | Date
  | Uint8Array
  | JsonValue[]
  | { [key: string]: JsonValue }

/**
 * Declared column types. `any` accepts every supported value; the others are checked at
 * `submit()` time so that a bad value fails its own row, not the batch it would have joined.
 * `decimal` travels as a string so no precision is lost.
 */
export type ColumnType =
  | 'any'
  | 'int'
  | 'bigint'
  | 'float'
  | 'decimal'
  | 'string'
  | 'boolean'
  | 'date'
  | 'bytes'
  | 'json'

const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n
const DECIMAL_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/
const INTEGER_RE = /^[+-]?\d+$/

const HasBuffer = typeof (globalThis as { Buffer?: unknown }).Buffer === 'function'

function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v)
  return proto === Object.prototype || proto === null
}

function fail(
  table: string,
  column: string,
  code: 'UNSUPPORTED' | 'MISMATCH',
  what: string,
): never {
  throw new ValidationError(
    code === 'UNSUPPORTED' ? 'BATCHSQL_UNSUPPORTED_VALUE' : 'BATCHSQL_TYPE_MISMATCH',
    `column "${column}" of table "${table}": ${what}`,
    { table, column },
  )
}

/**
 * What JSON.stringify would change without a word, by kind; undefined for a value it keeps.
 * A missing property (`{ a: undefined }`) is left to JSON's rule (dropped): it is how optional
 * fields look in JavaScript, and dropping one loses nothing.
 */
function jsonLoss(holder: unknown, v: unknown): string | undefined {
  switch (typeof v) {
    case 'number':
      return Number.isFinite(v)
        ? undefined
        : 'a NaN or Infinity (JSON has no such number; it would be null)'
    case 'function':
    case 'symbol':
      return `a ${typeof v} (it would be dropped)`
    case 'undefined':
      return Array.isArray(holder) ? 'an undefined array element (it would be null)' : undefined
    case 'object':
      if (
        v instanceof Map ||
        v instanceof Set ||
        v instanceof WeakMap ||
        v instanceof WeakSet ||
        v instanceof RegExp ||
        v instanceof Error ||
        v instanceof Promise ||
        v instanceof ArrayBuffer ||
        ArrayBuffer.isView(v)
      )
        return `a ${typeName(v)} (it would be {} or an object of indexes)`
      return undefined
    default:
      return undefined
  }
}

/**
 * Deep copy of a JSON document that also proves it is one: no bigint or cycle (JSON.stringify
 * throws), and nothing that JSON.stringify would silently turn into something else.
 */
function copyJson(v: unknown, table: string, column: string): JsonValue {
  let text: string | undefined
  let loss: string | undefined
  try {
    text = JSON.stringify(v, function (this: unknown, _key, value: unknown) {
      // `value` is after toJSON() (a Date is its ISO string by now).
      loss ??= jsonLoss(this, value)
      return value
    })
  } catch (cause) {
    throw new ValidationError(
      'BATCHSQL_UNSUPPORTED_VALUE',
      `column "${column}" of table "${table}": value is not JSON-serialisable`,
      { table, column, cause },
    )
  }
  if (loss !== undefined) fail(table, column, 'UNSUPPORTED', `JSON document holds ${loss}`)
  if (text === undefined) fail(table, column, 'UNSUPPORTED', 'value is not JSON-serialisable')
  return JSON.parse(text) as JsonValue
}

function typeName(v: unknown): string {
  if (v === null) return 'null'
  if (typeof v !== 'object') return typeof v
  return (v as object).constructor?.name ?? 'object'
}

/**
 * Validates one value against its column type and returns a private copy of it, so that a
 * caller mutating its object after `submit()` changes nothing. Primitives are returned as is
 * (the hot path); only Date, bytes and JSON documents are copied.
 */
export function copyValue(v: unknown, type: ColumnType, table: string, column: string): Value {
  if (v === null) return null
  switch (typeof v) {
    case 'number':
      if (!Number.isFinite(v)) fail(table, column, 'UNSUPPORTED', 'non-finite number')
      if (type === 'any' || type === 'float') return v
      if (type === 'int' || type === 'bigint') {
        if (!Number.isSafeInteger(v)) fail(table, column, 'MISMATCH', 'expected a safe integer')
        return v
      }
      if (type === 'decimal') return String(v)
      if (type === 'json') return v
      return fail(table, column, 'MISMATCH', `expected ${type}, got number`)
    case 'string':
      if (type === 'any' || type === 'string' || type === 'json') return v
      if (type === 'decimal') {
        if (!DECIMAL_RE.test(v)) fail(table, column, 'MISMATCH', 'expected a decimal string')
        return v
      }
      if (type === 'int' || type === 'bigint') {
        if (!INTEGER_RE.test(v)) fail(table, column, 'MISMATCH', 'expected an integer string')
        const n = BigInt(v)
        if (n < INT64_MIN || n > INT64_MAX) fail(table, column, 'MISMATCH', 'integer out of int64')
        return type === 'int' && Number.isSafeInteger(Number(n)) ? Number(n) : n
      }
      return fail(table, column, 'MISMATCH', `expected ${type}, got string`)
    case 'bigint':
      if (v < INT64_MIN || v > INT64_MAX) fail(table, column, 'MISMATCH', 'integer out of int64')
      if (type === 'any' || type === 'int' || type === 'bigint') return v
      if (type === 'decimal') return v.toString()
      return fail(table, column, 'MISMATCH', `expected ${type}, got bigint`)
    case 'boolean':
      if (type === 'any' || type === 'boolean' || type === 'json') return v
      return fail(table, column, 'MISMATCH', `expected ${type}, got boolean`)
    case 'object': {
      if (v instanceof Date) {
        if (type !== 'any' && type !== 'date')
          fail(table, column, 'MISMATCH', `expected ${type}, got Date`)
        const t = v.getTime()
        if (Number.isNaN(t)) fail(table, column, 'UNSUPPORTED', 'invalid Date')
        return new Date(t)
      }
      if (v instanceof Uint8Array) {
        if (type !== 'any' && type !== 'bytes')
          fail(table, column, 'MISMATCH', `expected ${type}, got bytes`)
        return HasBuffer ? Buffer.from(v) : new Uint8Array(v)
      }
      if (Array.isArray(v) || isPlainObject(v)) {
        if (type !== 'any' && type !== 'json')
          fail(table, column, 'MISMATCH', `expected ${type}, got a JSON document`)
        return copyJson(v, table, column) as Value
      }
      return fail(table, column, 'UNSUPPORTED', `unsupported value of type ${typeName(v)}`)
    }
    default:
      return fail(table, column, 'UNSUPPORTED', `unsupported value of type ${typeof v}`)
  }
}

/**
 * The identity of a value as a conflict key, normalised per column type so that `1`, `1n`
 * and `"1"` in an integer column are one key. Returns `undefined` for null (null keys never
 * merge: SQL unique constraints treat NULLs as distinct).
 */
export function keyPart(v: Value | undefined, type: ColumnType): string | undefined {
  if (v === null || v === undefined) return undefined
  switch (typeof v) {
    case 'number':
      if (type === 'string') return `s:${v}`
      if (type === 'decimal') return decimalKey(String(v))
      // A safe integer prints exactly as its BigInt does; skip the BigInt on this hot path
      // (every upsert row and every Redis command computes a key).
      if (Number.isSafeInteger(v)) return `n:${v}`
      return Number.isInteger(v) ? `n:${BigInt(v)}` : `n:${v}`
    case 'bigint':
      return `n:${v}`
    case 'string':
      if ((type === 'int' || type === 'bigint') && INTEGER_RE.test(v)) return `n:${BigInt(v)}`
      // Exactly, not through a double: 0.1000000000000000001 and 0.1 are two keys.
      if (type === 'decimal' && DECIMAL_RE.test(v)) return decimalKey(v)
      if (type === 'float') {
        const n = Number(v)
        if (Number.isFinite(n))
          return Number.isInteger(n) && INTEGER_RE.test(v) ? `n:${BigInt(v)}` : `n:${n}`
      }
      return `s:${v}`
    case 'boolean':
      return v ? 'b:1' : 'b:0'
    default:
      if (v instanceof Date) return `d:${v.getTime()}`
      if (v instanceof Uint8Array)
        return `x:${HasBuffer ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex') : Array.from(v).join(',')}`
      return `j:${JSON.stringify(v)}`
  }
}

/**
 * The key of a decimal string (matching DECIMAL_RE): one spelling per value, as significant
 * digits and a power of ten, so `1.50`, `+1.5` and `15e-1` are one key and `-0` is `0`. Why
 * not the full digits: an exponent like `1e999999` would expand to a million characters.
 */
function decimalKey(s: string): string {
  let i = 0
  let sign = ''
  if (s[0] === '-' || s[0] === '+') {
    if (s[0] === '-') sign = '-'
    i = 1
  }
  let e = s.indexOf('e', i)
  if (e < 0) e = s.indexOf('E', i)
  const mantissa = s.slice(i, e < 0 ? s.length : e)
  const dot = mantissa.indexOf('.')
  let digits = dot < 0 ? mantissa : mantissa.slice(0, dot) + mantissa.slice(dot + 1)
  // The value is 0.digits x 10^point: `point` digits stand before the decimal point.
  let point = (dot < 0 ? mantissa.length : dot) + (e < 0 ? 0 : Number(s.slice(e + 1)))
  let start = 0
  while (start < digits.length && digits[start] === '0') start++
  let end = digits.length
  while (end > start && digits[end - 1] === '0') end--
  if (start === end) return 'n:0'
  point -= start
  digits = digits.slice(start, end)
  return `n:${sign}${digits}e${point - digits.length}`
}

/**
 * A composite conflict key for a row, or `undefined` when any key column is null or unset.
 * Parts are joined with a separator that cannot occur inside a part's tag prefix, and each
 * part is length-prefixed so ("a:b","c") and ("a","b:c") never collide. `base` is where the
 * row starts in `values` (a flat batch holds every row in one array).
 */
export function rowKey(
  values: readonly (Value | undefined)[],
  indexes: readonly number[],
  types: readonly ColumnType[],
  base = 0,
): string | undefined {
  if (indexes.length === 1) {
    const i = indexes[0]!
    return keyPart(values[base + i], types[i]!)
  }
  let key = ''
  for (const i of indexes) {
    const part = keyPart(values[base + i], types[i]!)
    if (part === undefined) return undefined
    key += `${part.length}|${part}`
  }
  return key
}
