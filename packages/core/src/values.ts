import { ValidationError } from './errors.js'
import { setOwnProperty } from './own-property.js'

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
export const DECIMAL_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/
const INTEGER_RE = /^[+-]?\d+$/

/**
 * The instants a `date` holds: years 0001-9999 in UTC, the range every supported database
 * stores (MySQL's DATETIME ends at 9999, PostgreSQL's COPY and SQLite's ISO text need four
 * digits, and SQLite's text only sorts as time within it).
 */
const MIN_DATE = Date.parse('0001-01-01T00:00:00.000Z')
const MAX_DATE = Date.parse('9999-12-31T23:59:59.999Z')
const MALFORMED = 'string holds a lone UTF-16 surrogate (not encodable as UTF-8)'

const HasBuffer = typeof (globalThis as { Buffer?: unknown }).Buffer === 'function'

function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v)
  return proto === Object.prototype || proto === null || isForeignObjectPrototype(proto)
}

/**
 * Another realm's `Object.prototype` (an object from `vm.runInNewContext`, a worker's
 * structured data): `{}` there is as plain as here. Not any prototype at the root of its
 * chain: `Object.create(Object.create(null))` keeps state JSON cannot see.
 */
function isForeignObjectPrototype(proto: object): boolean {
  if (Object.getPrototypeOf(proto) !== null) return false
  const ctor = Object.getOwnPropertyDescriptor(proto, 'constructor')?.value as unknown
  return (
    typeof ctor === 'function' &&
    ctor.prototype === proto &&
    ctor.name === 'Object' &&
    Object.getOwnPropertyDescriptor(proto, 'hasOwnProperty') !== undefined
  )
}

/** "a Map", "an object": a value's type for a message. */
function aType(v: unknown): string {
  const name = typeName(v)
  return `${/^[aeiou]/i.test(name) ? 'an' : 'a'} ${name}`
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

/** Objects JSON.stringify would turn into `{}` (or an object of indexes) without a word. */
function opaque(v: object): boolean {
  return (
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
}

/**
 * Deepest JSON document accepted. Why a fixed limit: past it a document was accepted or not
 * depending on the stack left (a JIT-warm walk got through ~7,000 levels), and the adapter's
 * `JSON.stringify` then overflowed, failing every row of its batch. 512 is far below any
 * stack and far above real documents (PostgreSQL's jsonb takes it; MySQL stops at 100).
 */
export const JSON_MAX_DEPTH = 512

/**
 * Deep copy of a JSON document that also proves it is one: what `JSON.parse(JSON.stringify(v))`
 * gives (toJSON() applied, so a Date is its ISO text; undefined properties left out), except
 * that anything JSON.stringify would change without a word is refused: NaN and Infinity (null),
 * Map, Set, typed arrays and the like ({}), functions and symbols (dropped), undefined array
 * elements (null); and a bigint or a cycle, which it cannot write. One walk, not stringify and
 * parse: on the submit() path of every row with a JSON column (half the cost, measured).
 */
function copyJson(v: unknown, table: string, column: string): JsonValue {
  const ancestors = new Set<object>()
  const refuse = (what: string): never =>
    fail(table, column, 'UNSUPPORTED', `JSON document holds ${what}`)
  const walk = (x: unknown, key: string, inArray: boolean): JsonValue | undefined => {
    switch (typeof x) {
      case 'string':
        return x.isWellFormed() ? x : refuse('a string with a lone UTF-16 surrogate')
      case 'boolean':
        return x
      case 'number':
        if (!Number.isFinite(x)) refuse('a NaN or Infinity (JSON has no such number)')
        return x === 0 ? 0 : x // JSON has no -0
      case 'undefined':
        return inArray ? refuse('an undefined array element') : undefined
      case 'bigint':
        return refuse('a bigint (JSON.stringify cannot write one)')
      case 'function':
      case 'symbol':
        return refuse(`a ${typeof x}`)
    }
    if (x === null) return null
    const o = x as object & { toJSON?: (key: string) => unknown }
    // Its toJSON() gives null: the document would hold null where the caller put a date.
    if (o instanceof Date && Number.isNaN(o.getTime())) refuse('an invalid Date')
    if (typeof o.toJSON === 'function') return walk(o.toJSON(key), key, inArray)
    if (o instanceof String || o instanceof Number || o instanceof Boolean)
      return walk(o.valueOf(), key, inArray)
    if (opaque(o)) refuse(aType(o))
    // Any other object whose state JSON cannot see (URLSearchParams, Headers, WeakRef, a boxed
    // bigint, a class keeping its fields #private): no own enumerable key, so JSON.stringify
    // writes {}. A class instance with own fields is written as they are, as JSON.stringify does.
    if (!Array.isArray(o) && !isPlainObject(o) && Object.keys(o).length === 0)
      refuse(`${aType(o)} with no own enumerable property (JSON would write {})`)
    if (ancestors.has(o)) refuse('a cycle')
    if (ancestors.size >= JSON_MAX_DEPTH) refuse(`more than ${JSON_MAX_DEPTH} levels of nesting`)
    ancestors.add(o)
    let out: JsonValue
    if (Array.isArray(o)) {
      const arr: JsonValue[] = new Array(o.length)
      for (let i = 0; i < o.length; i++) arr[i] = walk(o[i], String(i), true) as JsonValue
      out = arr
    } else {
      const obj: Record<string, JsonValue> = {}
      for (const k of Object.keys(o)) {
        if (!k.isWellFormed()) refuse('a key with a lone UTF-16 surrogate')
        const w = walk((o as Record<string, unknown>)[k], k, false)
        if (w === undefined) continue
        // An own "__proto__" key, as JSON.parse makes it, stays a key.
        setOwnProperty(obj, k, w)
      }
      out = obj
    }
    ancestors.delete(o)
    return out
  }
  let out: JsonValue | undefined
  try {
    out = walk(v, '', false)
  } catch (err) {
    // Depth is capped at JSON_MAX_DEPTH, far inside the stack; a chain of toJSON() calls
    // (each returning a new object) could still exhaust it: refused, not a crash.
    if (err instanceof RangeError) refuse('too many levels of nesting')
    throw err
  }
  if (out === undefined) fail(table, column, 'UNSUPPORTED', 'value is not JSON-serialisable')
  return out
}

function typeName(v: unknown): string {
  if (v === null) return 'null'
  if (typeof v !== 'object') return typeof v
  // A built-in's name (Map, Set, Uint16Array...); another class's name is the caller's text,
  // which could be anything (messages never quote row data), so it is just "object".
  const ctor = (v as object).constructor as { name?: unknown } | undefined
  const name = ctor?.name
  return typeof name === 'string' && (globalThis as Record<string, unknown>)[name] === ctor
    ? name
    : 'object'
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
      // -0 as 0 on every dialect: pg and mysql2 send numbers as text ("0"), but SQLite binds
      // the double and a REAL or untyped column would keep -0.0.
      if (type === 'any' || type === 'float') return v === 0 ? 0 : v
      if (type === 'int' || type === 'bigint') {
        if (!Number.isSafeInteger(v)) fail(table, column, 'MISMATCH', 'expected a safe integer')
        return v
      }
      if (type === 'decimal') return String(v)
      if (type === 'json') return v
      return fail(table, column, 'MISMATCH', `expected ${type}, got number`)
    case 'string':
      if (!v.isWellFormed()) fail(table, column, 'UNSUPPORTED', MALFORMED)
      if (type === 'any' || type === 'string' || type === 'json') return v
      if (type === 'decimal') {
        if (!DECIMAL_RE.test(v))
          fail(
            table,
            column,
            'MISMATCH',
            'expected decimal, got a string that is not a decimal number (e.g. 12.50 is accepted)',
          )
        return v
      }
      if (type === 'int' || type === 'bigint') {
        if (!INTEGER_RE.test(v))
          fail(
            table,
            column,
            'MISMATCH',
            `expected ${type}, got a string that is not an integer (a string of digits is accepted)`,
          )
        const n = BigInt(v)
        if (n < INT64_MIN || n > INT64_MAX) fail(table, column, 'MISMATCH', 'integer out of int64')
        return type === 'int' && Number.isSafeInteger(Number(n)) ? Number(n) : n
      }
      return fail(table, column, 'MISMATCH', `expected ${type}, got string`)
    case 'bigint':
      // A decimal holds any integer; only integer columns are int64.
      if (type === 'decimal') return v.toString()
      if (v < INT64_MIN || v > INT64_MAX) fail(table, column, 'MISMATCH', 'integer out of int64')
      if (type === 'any' || type === 'int' || type === 'bigint') return v
      return fail(table, column, 'MISMATCH', `expected ${type}, got bigint`)
    case 'boolean':
      if (type === 'any' || type === 'boolean' || type === 'json') return v
      return fail(table, column, 'MISMATCH', `expected ${type}, got boolean`)
    case 'object': {
      if (v instanceof Date) {
        if (type !== 'any' && type !== 'date' && type !== 'json')
          fail(table, column, 'MISMATCH', `expected ${type}, got Date`)
        const t = v.getTime()
        if (Number.isNaN(t)) fail(table, column, 'UNSUPPORTED', 'invalid Date')
        // As inside a document: a JSON document holds a Date as its ISO text.
        if (type === 'json') return v.toISOString()
        if (t < MIN_DATE || t > MAX_DATE)
          fail(table, column, 'UNSUPPORTED', 'Date outside years 0001-9999 (UTC)')
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
export function decimalKey(s: string): string {
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
 * row starts in `values` (a flat batch holds every row in one array). `spell`, when given,
 * respells each part first (the ordering gate folds text that a collation may take for one).
 */
export function rowKey(
  values: readonly (Value | undefined)[],
  indexes: readonly number[],
  types: readonly ColumnType[],
  base = 0,
  spell?: (part: string) => string,
): string | undefined {
  if (indexes.length === 1) {
    const i = indexes[0]!
    const part = keyPart(values[base + i], types[i]!)
    return part === undefined || spell === undefined ? part : spell(part)
  }
  let key = ''
  for (const i of indexes) {
    let part = keyPart(values[base + i], types[i]!)
    if (part === undefined) return undefined
    if (spell !== undefined) part = spell(part)
    key += `${part.length}|${part}`
  }
  return key
}

/**
 * `key` (a `rowKey()`) with each part respelled by `spell`: what `rowKey(…, spell)` gives for
 * the same row, for a caller that kept the key and not the row. A single part starts with its
 * tag letter, a composite key with the first part's length.
 */
export function respellKey(key: string, spell: (part: string) => string): string {
  const c = key.charCodeAt(0)
  if (c < 0x30 || c > 0x39) return spell(key)
  let out = ''
  for (let at = 0; at < key.length; ) {
    const bar = key.indexOf('|', at)
    const end = bar + 1 + Number(key.slice(at, bar))
    const part = spell(key.slice(bar + 1, end))
    out += `${part.length}|${part}`
    at = end
  }
  return out
}
