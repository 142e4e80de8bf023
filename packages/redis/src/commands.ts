/**
 * The Redis commands BatchSQL writes, with their argument counts and whether sending one
 * twice is harmless. Only commands listed here are accepted: a batch writer must know which
 * commands it may retry after an unknown outcome and which it may coalesce.
 */

/**
 * Commands that may be folded into a later one of the same family on the same key (and
 * element): the later command fully determines the result, so the earlier one can be skipped.
 */
export type CoalesceFamily = 'string' | 'hash' | 'zset' | 'set' | 'del' | 'expire'

export interface CommandSpec {
  /**
   * The name as written on the wire, lower case: ioredis lower-cases a command name in each
   * of its several flag checks per command, which allocates unless it already is.
   */
  readonly wire: string
  /** Arguments after the command name, key included. */
  readonly minArgs: number
  /** `Infinity` for variadic commands. */
  readonly maxArgs: number
  /** Arguments after the key come in groups of this size (HSET field value ...). */
  readonly step: number
  /** Sending it twice leaves the same state as once (SET yes, LPUSH/INCR no). */
  readonly idempotent: boolean
  /** Set when the command may be coalesced; `element` = argument index of the element. */
  readonly coalesce?: { readonly family: CoalesceFamily; readonly element?: number }
}

const spec = (
  wire: string,
  minArgs: number,
  maxArgs: number,
  idempotent: boolean,
  coalesce?: CommandSpec['coalesce'],
  step = 1,
): CommandSpec => Object.freeze({ wire, minArgs, maxArgs, step, idempotent, coalesce })

// Variadic forms (HSET k f v f v, SADD k m m ...) are accepted but only coalesced in their
// single-element form, where "the later one wins" is exact.
export const COMMANDS: Readonly<Record<string, CommandSpec>> = Object.freeze({
  SET: spec('set', 2, 2, true, { family: 'string' }),
  SETEX: spec('setex', 3, 3, true, { family: 'string' }),
  PSETEX: spec('psetex', 3, 3, true, { family: 'string' }),
  HSET: spec('hset', 3, Infinity, true, { family: 'hash', element: 1 }, 2),
  HDEL: spec('hdel', 2, Infinity, true),
  ZADD: spec('zadd', 3, Infinity, true, { family: 'zset', element: 2 }, 2),
  ZREM: spec('zrem', 2, Infinity, true),
  SADD: spec('sadd', 2, Infinity, true, { family: 'set', element: 1 }),
  SREM: spec('srem', 2, Infinity, true),
  DEL: spec('del', 1, 1, true, { family: 'del' }),
  UNLINK: spec('unlink', 1, 1, true, { family: 'del' }),
  EXPIRE: spec('expire', 2, 2, true, { family: 'expire' }),
  PEXPIRE: spec('pexpire', 2, 2, true, { family: 'expire' }),
  PERSIST: spec('persist', 1, 1, true),
  LPUSH: spec('lpush', 2, Infinity, false),
  RPUSH: spec('rpush', 2, Infinity, false),
  INCR: spec('incr', 1, 1, false),
  DECR: spec('decr', 1, 1, false),
  INCRBY: spec('incrby', 2, 2, false),
  DECRBY: spec('decrby', 2, 2, false),
  INCRBYFLOAT: spec('incrbyfloat', 2, 2, false),
  HINCRBY: spec('hincrby', 3, 3, false),
  HINCRBYFLOAT: spec('hincrbyfloat', 3, 3, false),
  ZINCRBY: spec('zincrby', 3, 3, false),
  APPEND: spec('append', 2, 2, false),
  // key, id, then field value pairs; options (MAXLEN ~ n, NOMKSTREAM) may precede the id, so
  // only the minimum is checked.
  XADD: spec('xadd', 4, Infinity, false),
  // A key alone is valid (it creates the empty HyperLogLog): the minimum is the key.
  PFADD: spec('pfadd', 1, Infinity, true),
})

/**
 * `ZADD … INCR` adds to the member's score, like ZINCRBY: not safe to send twice, never
 * folded. The generic form picks it when the flags before the first score include INCR.
 */
export const ZADD_INCR: CommandSpec = spec('zadd', 3, Infinity, false)

/** The flags ZADD takes between its key and its first score. */
export const ZADD_FLAGS: ReadonlySet<string> = new Set(['NX', 'XX', 'GT', 'LT', 'CH', 'INCR'])

export type RedisArg = string | number | Buffer

/** One command ready to send; `key` is its only key (commands here are single-key). */
export interface RedisCommand {
  readonly name: string
  /** Arguments, key first. */
  readonly args: readonly RedisArg[]
  /** Identity of `args[0]` (the key) for coalescing: its bytes on the wire (`keyIdentity`). */
  readonly key: string
  readonly spec: CommandSpec
}
