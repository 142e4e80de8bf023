import { isUtf8 } from 'node:buffer'
import { fnv1a, ValidationError, type Value } from '@batchsql/core'
import { COMMANDS, type RedisArg, type RedisCommand, ZADD_FLAGS, ZADD_INCR } from './commands.js'

/**
 * Turns a row's column-aligned values, `values[base ..]`, into the command to send; throws
 * ValidationError. `base` lets a flat batch (rows side by side in one array) be read in
 * place, without a copy of each row.
 */
export type RowToCommand = (values: readonly (Value | undefined)[], base?: number) => RedisCommand

/** The mapper a Redis schema carries in `adapterOptions`. */
export const MAPPER = 'redis.toCommand'

/**
 * One argument on the wire. Redis has no null and no types: null is refused (it would be
 * sent as an empty string), numbers and bigints go as decimal text, bytes as they are,
 * dates as ISO 8601, booleans, arrays and objects as JSON text.
 */
export function toArg(v: Value, table: string, column: string): RedisArg {
  switch (typeof v) {
    case 'string':
      return v
    case 'number':
      if (!Number.isFinite(v)) {
        throw new ValidationError(
          'BATCHSQL_UNSUPPORTED_VALUE',
          `column "${column}" of "${table}" holds a non-finite number`,
          { table, column },
        )
      }
      // As text here, not by ioredis: ioredis 6 sends a whole number past 2^53 as
      // `BigInt(n)` digits (2 ** 60 as 1152921504606846976) where String(n) gives
      // 1152921504606847000, so the member or field sent would differ from the one coalescing
      // compared, and two different members could be merged into one.
      return String(v)
    case 'bigint':
      return v.toString()
    case 'boolean':
      return v ? 'true' : 'false'
  }
  if (v === null) {
    throw new ValidationError(
      'BATCHSQL_UNSUPPORTED_VALUE',
      `column "${column}" of "${table}" is null; Redis arguments cannot be null`,
      { table, column },
    )
  }
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength)
  if (v instanceof Date) return v.toISOString()
  return JSON.stringify(v)
}

/**
 * Checks a row's command against its spec's argument count; `args` include the key. A row
 * error (the schema is fine): too few arguments is a missing value, any other count a mismatch.
 */
function checkArity(name: string, argc: number, table: string, flags = 0): void {
  const spec = COMMANDS[name]!
  const ok = argc >= spec.minArgs && argc <= spec.maxArgs && (argc - spec.minArgs) % spec.step === 0
  if (!ok) {
    throw new ValidationError(
      argc < spec.minArgs ? 'BATCHSQL_MISSING_VALUE' : 'BATCHSQL_TYPE_MISMATCH',
      `${name} in "${table}" got ${argc} argument(s)${flags > 0 ? ` besides ${flags} flag(s)` : ''}; expected ${describe(spec.minArgs, spec.maxArgs, spec.step)}`,
      { table },
    )
  }
}

function describe(min: number, max: number, step: number): string {
  if (min === max) return `${min}`
  return step === 1 ? `at least ${min}` : `${min} + a multiple of ${step}`
}

/** The key argument with the schema's prefix. */
export function prefixed(arg: RedisArg, prefix: string): RedisArg {
  if (prefix === '') return typeof arg === 'number' ? String(arg) : arg
  return Buffer.isBuffer(arg) ? Buffer.concat([Buffer.from(prefix), arg]) : prefix + arg
}

/**
 * The identity of a key (or of a hash field, set member...) for coalescing: two arguments get
 * the same identity exactly when Redis receives the same bytes for them. ioredis sends a
 * string as UTF-8 (a lone surrogate as U+FFFD) and a number as its decimal text, so:
 * - a string is its own identity (made well-formed: `'a\uD800'` and `'a\uFFFD'` are the same
 *   bytes); the common case costs one check and no allocation;
 * - a Buffer that is valid UTF-8 holds the very bytes of the string it decodes to, and gets
 *   that string's identity (`Buffer.from('k')` and `'k'` are one key);
 * - any other Buffer gets `BYTES_TAG` followed by its bytes, one latin1 character per byte.
 *   The tag is a lone surrogate, which no well-formed string contains, so such an identity
 *   never equals a string's, whatever the string starts with; and different bytes give
 *   different identities.
 */
export function keyIdentity(arg: RedisArg): string {
  if (typeof arg === 'string') return arg.isWellFormed() ? arg : arg.toWellFormed()
  if (typeof arg === 'number') return String(arg)
  return isUtf8(arg) ? arg.toString('utf8') : BYTES_TAG + arg.toString('latin1')
}

/** Starts the identity of bytes that are not valid UTF-8 (see `keyIdentity`). */
const BYTES_TAG = '\uDC00'

/**
 * The hash of the key Redis receives for column `at` of a row, `prefix` included: FNV-1a
 * (32 bits) over its `keyIdentity`, so it is the same for every spelling of one key (`1` and
 * `'1'`, bytes and text) and in every schema. Core's ordering gate compares the keys of all
 * Redis schemas by it (`keyHash`, one `orderScope`): a `SET` and a later `DEL` of one key,
 * through two schemas, are applied in that order.
 */
export function prefixedKeyHash(prefix: string, at: number) {
  const seed = fnv1a(prefix)
  return (values: readonly (Value | undefined)[], base: number): number | undefined => {
    const v = values[base + at]
    if (v === undefined || v === null) return undefined
    // The common keys hash in place: a string (well-formed: core refuses lone surrogates at
    // submit) is its own identity, after the prefix's.
    if (typeof v === 'string') return fnv1a(v, seed)
    if (typeof v === 'number') return fnv1a(String(v), seed)
    return fnv1a(keyIdentity(prefixed(toArg(v, '', 'key'), prefix)))
  }
}

/**
 * The generic form: the first column holds the command name, the following set columns its
 * arguments (key first) in column order. A column left unset between two set ones is an
 * error, never an empty argument.
 */
export function genericMapper(
  table: string,
  columns: readonly string[],
  prefix: string,
): RowToCommand {
  const width = columns.length
  return (values, base = 0) => {
    const raw = values[base]
    if (typeof raw !== 'string') {
      throw new ValidationError(
        'BATCHSQL_UNSUPPORTED_VALUE',
        `column "${columns[0]}" of "${table}" must hold a command name`,
        { table, column: columns[0] },
      )
    }
    const name = raw.toUpperCase()
    const spec = COMMANDS[name]
    if (spec === undefined) {
      throw new ValidationError(
        'BATCHSQL_UNSUPPORTED_VALUE',
        `unsupported Redis command in "${table}" (supported: ${Object.keys(COMMANDS).join(', ')})`,
        { table, column: columns[0] },
      )
    }
    const args: RedisArg[] = []
    let gap: number | undefined
    for (let i = 1; i < width; i++) {
      const v = values[base + i]
      if (v === undefined) {
        gap ??= i
        continue
      }
      if (gap !== undefined) {
        throw new ValidationError(
          'BATCHSQL_MISSING_VALUE',
          `column "${columns[gap]}" of "${table}" is unset before a set argument`,
          { table, column: columns[gap] },
        )
      }
      args.push(toArg(v, table, columns[i]!))
    }
    // ZADD's flags are not score/member pairs: counted apart, and INCR makes the command an
    // increment that a retry after a lost reply would apply twice.
    const [flags, incr] = name === 'ZADD' ? zaddFlags(args) : NO_FLAGS
    checkArity(name, args.length - flags, table, flags)
    args[0] = prefixed(args[0]!, prefix)
    return { name, args, key: keyIdentity(args[0]), spec: incr ? ZADD_INCR : spec }
  }
}

// Shared: no array per command on the hot path.
const NO_FLAGS: readonly [count: number, incr: boolean] = [0, false]

/** How many of ZADD's arguments after the key are flags (NX, XX, GT, LT, CH, INCR), and INCR among them. */
function zaddFlags(args: readonly RedisArg[]): [count: number, incr: boolean] {
  let count = 0
  let incr = false
  for (let i = 1; i < args.length; i++) {
    const a = args[i]!
    // A flag is at most 4 bytes; a longer argument (or a number) is the first score.
    if (typeof a === 'number' || a.length > 4) break
    const word = a.toString().toUpperCase()
    if (!ZADD_FLAGS.has(word)) break
    count++
    if (word === 'INCR') incr = true
  }
  return [count, incr]
}
