import {
  type ColumnType,
  defineSchema,
  type Schema,
  setOwnProperty,
  ValidationError,
  type Value,
} from '@batchsql/core'
import { COMMANDS, type RedisArg, type RedisCommand } from './commands.js'
import {
  genericMapper,
  keyIdentity,
  MAPPER,
  prefixed,
  prefixedKeyHash,
  type RowToCommand,
  toArg,
} from './to-command.js'

/** A time to live with its unit spelled out: `{ seconds: 60 }` or `{ milliseconds: 1500 }`. */
export type Ttl = { readonly seconds: number } | { readonly milliseconds: number }

export interface KeyOptions {
  /** Prepended to every key of the schema, e.g. `session:`. Default none. */
  prefix?: string
  /** The schema's name (metrics label). Default `redis_<command>`. */
  name?: string
}

interface Mapping {
  toCommand: RowToCommand
  validate?: (values: readonly (Value | undefined)[]) => void
}

/** The `orderScope` of every Redis schema. */
const REDIS_ORDER_SCOPE = 'redis keys'

/**
 * Every Redis schema is a core schema keyed on its `key` column with `replace` strategy, so
 * BatchSQL never lets two batches touching the same key run at once (per-key order holds
 * across batches and retries). Core's own column merging is off (`dedupe: none`): the
 * processor coalesces whole commands itself, and only idempotent ones.
 */
function redisSchema<Row extends Record<string, unknown>>(
  name: string,
  columns: Record<string, ColumnType>,
  prefix: string,
  { toCommand, validate }: Mapping,
): Schema<Row> {
  return defineSchema<Row>({
    table: name,
    columns: columns as { [K in keyof Row & string]: ColumnType },
    strategy: 'replace',
    conflictColumns: ['key'] as (keyof Row & string)[],
    // One scope for every Redis schema, keys compared as Redis receives them: commands on a
    // key keep submit order whichever schema (name, prefix) they came through.
    orderScope: REDIS_ORDER_SCOPE,
    keyHash: prefixedKeyHash(prefix, Object.keys(columns).indexOf('key')),
    dedupe: 'none',
    adapterOptions: { [MAPPER]: toCommand },
    // Without a cheaper check, the command is built at submit just to validate it.
    validate: validate ?? ((values) => void toCommand(values)),
  })
}

function required(v: Value | undefined, table: string, column: string): Value {
  if (v === undefined) {
    throw new ValidationError(
      'BATCHSQL_MISSING_VALUE',
      `column "${column}" of "${table}" is unset`,
      {
        table,
        column,
      },
    )
  }
  return v
}

const KEY_OPTIONS = ['prefix', 'name'] as const

/**
 * Refuses what a factory would otherwise ignore or misread (a misspelt `prefx` writes to
 * unprefixed keys, `side: 'RIGHT'` pushes on the left), as `defineSchema()` does for SQL
 * schemas: a typed caller gets a compile error, a JavaScript or dynamic one this.
 */
function checkOptions(factory: string, options: unknown, own: readonly string[] = []): void {
  const invalid = (message: string) =>
    new ValidationError('BATCHSQL_INVALID_SCHEMA', `redisSchemas.${factory}: ${message}`)
  if (typeof options !== 'object' || options === null) throw invalid('options must be an object')
  const known = [...KEY_OPTIONS, ...own]
  for (const key of Object.keys(options))
    if (!known.includes(key)) throw invalid(`unknown option "${key}" (${known.join(', ')})`)
  const { prefix, name } = options as KeyOptions
  if (prefix !== undefined && typeof prefix !== 'string') throw invalid('prefix must be a string')
  if (name !== undefined && (typeof name !== 'string' || name === ''))
    throw invalid('name must be a non-empty string')
}

function ttlArgs(ttl: Ttl | undefined, table: string): RedisArg[] {
  if (ttl === undefined) return []
  const keys = typeof ttl === 'object' && ttl !== null ? Object.keys(ttl) : []
  if (keys.length !== 1 || (keys[0] !== 'seconds' && keys[0] !== 'milliseconds')) {
    throw new ValidationError(
      'BATCHSQL_INVALID_SCHEMA',
      `"${table}": ttl must be { seconds: n } or { milliseconds: n }, one unit spelled out`,
      { table },
    )
  }
  const [unit, n] =
    'seconds' in ttl
      ? (['EX', ttl.seconds] as const)
      : (['PX', (ttl as { milliseconds: number }).milliseconds] as const)
  if (!Number.isSafeInteger(n) || n <= 0) {
    throw new ValidationError(
      'BATCHSQL_INVALID_SCHEMA',
      `"${table}": ttl must be a positive integer number of ${unit === 'EX' ? 'seconds' : 'milliseconds'}`,
      { table },
    )
  }
  return [unit, n]
}

/**
 * The submit-time check of a fixed command: every argument set, none null, numbers finite.
 * Cheaper than building the command (this runs once per submit, on the hot path); what
 * else `toArg` refuses, core's column types already did.
 */
function checkArgs(table: string, columns: readonly string[]) {
  return (values: readonly (Value | undefined)[]): void => {
    for (let i = 0; i < columns.length; i++) {
      const v = values[i]
      if (v === null || v === undefined || (typeof v === 'number' && !Number.isFinite(v))) {
        toArg(required(v, table, columns[i]!), table, columns[i]!) // throws the precise error
      }
    }
  }
}

/** A mapper for a fixed command: `columns` (key first) become the arguments in order. */
function fixed(
  name: string,
  table: string,
  prefix: string,
  columns: readonly string[],
  tail: readonly RedisArg[] = [],
): Mapping {
  const spec = COMMANDS[name]!
  const n = columns.length
  const toCommand: RowToCommand = (values, base = 0) => {
    // Sized up front: an empty array grown by push() reserves 17 slots (~150 bytes a command
    // of garbage, measured with bench/allocations.mjs).
    const args = new Array<RedisArg>(n + tail.length)
    for (let i = 0; i < n; i++)
      args[i] = toArg(required(values[base + i], table, columns[i]!), table, columns[i]!)
    args[0] = prefixed(args[0]!, prefix)
    for (let t = 0; t < tail.length; t++) args[n + t] = tail[t]!
    return { name, args, key: keyIdentity(args[0]!), spec } satisfies RedisCommand
  }
  return { toCommand, validate: checkArgs(table, columns) }
}

/**
 * Rows of the fixed forms: every argument required and non-null, as `submit()` checks at
 * run time (a compile error first, for typed callers).
 */
export type KeyRow = { key: string | Uint8Array }
type Arg = NonNullable<Value>

/**
 * Schema factories. Each returns a core `Schema` to pass to `submit()`; rows are checked at
 * `submit()` (unset or null arguments, wrong types are rejected there).
 */
export const redisSchemas = {
  /** `SET key value` (with `EX`/`PX` when `ttl` is given). Coalesced by key: last wins. */
  set(options: KeyOptions & { ttl?: Ttl } = {}) {
    checkOptions('set', options, ['ttl'])
    const table = options.name ?? 'redis_set'
    const tail = ttlArgs(options.ttl, table)
    return redisSchema<KeyRow & { value: Arg }>(
      table,
      { key: 'any', value: 'any' },
      options.prefix ?? '',
      fixed('SET', table, options.prefix ?? '', ['key', 'value'], tail),
    )
  },
  /** `HSET key field value`. Coalesced by key and field. */
  hset(options: KeyOptions = {}) {
    checkOptions('hset', options)
    const table = options.name ?? 'redis_hset'
    return redisSchema<KeyRow & { field: string; value: Arg }>(
      table,
      { key: 'any', field: 'string', value: 'any' },
      options.prefix ?? '',
      fixed('HSET', table, options.prefix ?? '', ['key', 'field', 'value']),
    )
  },
  /** `ZADD key score member`. Coalesced by key and member. */
  zadd(options: KeyOptions = {}) {
    checkOptions('zadd', options)
    const table = options.name ?? 'redis_zadd'
    const map = fixed('ZADD', table, options.prefix ?? '', ['key', 'score', 'member'])
    return redisSchema<KeyRow & { score: number; member: Arg }>(
      table,
      { key: 'any', score: 'float', member: 'any' },
      options.prefix ?? '',
      map,
    )
  },
  /** `LPUSH key value` (`side: 'left'`, default) or `RPUSH`. Never coalesced. */
  push(options: KeyOptions & { side?: 'left' | 'right' } = {}) {
    checkOptions('push', options, ['side'])
    if (options.side !== undefined && options.side !== 'left' && options.side !== 'right') {
      throw new ValidationError(
        'BATCHSQL_INVALID_SCHEMA',
        'redisSchemas.push: side must be "left" or "right"',
      )
    }
    const cmd = options.side === 'right' ? 'RPUSH' : 'LPUSH'
    const table = options.name ?? `redis_${cmd.toLowerCase()}`
    return redisSchema<KeyRow & { value: Arg }>(
      table,
      { key: 'any', value: 'any' },
      options.prefix ?? '',
      fixed(cmd, table, options.prefix ?? '', ['key', 'value']),
    )
  },
  /** `INCRBY key by`. Never coalesced. */
  incr(options: KeyOptions = {}) {
    checkOptions('incr', options)
    const table = options.name ?? 'redis_incrby'
    return redisSchema<KeyRow & { by: number | bigint }>(
      table,
      { key: 'any', by: 'bigint' },
      options.prefix ?? '',
      fixed('INCRBY', table, options.prefix ?? '', ['key', 'by']),
    )
  },
  /** `EXPIRE key ttl` or `PEXPIRE`, by the explicit `unit`. Coalesced by key. */
  expire(options: KeyOptions & { unit: 'seconds' | 'milliseconds' }) {
    if (options?.unit !== 'seconds' && options?.unit !== 'milliseconds') {
      throw new ValidationError(
        'BATCHSQL_INVALID_SCHEMA',
        'redisSchemas.expire needs unit: "seconds" or "milliseconds"',
      )
    }
    checkOptions('expire', options, ['unit'])
    const cmd = options.unit === 'seconds' ? 'EXPIRE' : 'PEXPIRE'
    const table = options.name ?? `redis_${cmd.toLowerCase()}`
    return redisSchema<KeyRow & { ttl: number }>(
      table,
      { key: 'any', ttl: 'int' },
      options.prefix ?? '',
      fixed(cmd, table, options.prefix ?? '', ['key', 'ttl']),
    )
  },
  /** `DEL key`. Coalesced by key. */
  del(options: KeyOptions = {}) {
    checkOptions('del', options)
    const table = options.name ?? 'redis_del'
    return redisSchema<KeyRow>(
      table,
      { key: 'any' },
      options.prefix ?? '',
      fixed('DEL', table, options.prefix ?? '', ['key']),
    )
  },
  /**
   * The generic form: `columns[0]` holds the command name, the other columns its arguments
   * (the key first), e.g. `['cmd', 'key', 'ttl', 'value']` for `SETEX`. A row sets the
   * columns its command needs, in order; any command of `SUPPORTED_COMMANDS` is accepted.
   * The key column must be named `key`.
   */
  command<const C extends readonly string[]>(options: KeyOptions & { columns: C }) {
    checkOptions('command', options, ['columns'])
    const columns = options.columns
    const table = options.name ?? 'redis_command'
    if (!Array.isArray(columns) || columns.length < 2 || columns[1] !== 'key') {
      throw new ValidationError(
        'BATCHSQL_INVALID_SCHEMA',
        `"${table}": columns must be [command column, "key", ...argument columns]`,
        { table },
      )
    }
    const types: Record<string, ColumnType> = {}
    for (const c of columns) setOwnProperty(types, c, 'any') // `__proto__` too: see core
    return redisSchema<{ [K in C[number]]?: Value }>(table, types, options.prefix ?? '', {
      toCommand: genericMapper(table, columns, options.prefix ?? ''),
    })
  },
} as const

/** Command names the generic form accepts. */
export const SUPPORTED_COMMANDS: readonly string[] = Object.freeze(Object.keys(COMMANDS))
