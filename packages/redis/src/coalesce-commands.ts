import type { RedisCommand } from './commands.js'
import { keyIdentity } from './to-command.js'

export interface SendPlan {
  /** Indexes (into the batch) of the commands to send, in batch order. */
  readonly send: number[]
  /**
   * For each sent command folded with earlier ones, the batch indexes it stands for; an
   * absent entry means just `send[k]` (kept sparse: most commands stand for themselves).
   */
  readonly merged: Map<number, number[]>
  /** Commands folded into a later one. */
  readonly dropped: number
}

/** The batch indexes the `k`-th sent command stands for. */
export function sourcesOf(plan: SendPlan, k: number): number[] {
  return plan.merged.get(k) ?? [plan.send[k]!]
}

function elementOf(cmd: RedisCommand, at: number): string | undefined {
  const c = cmd.spec.coalesce!
  // Only the single-element form (HSET k f v, ZADD k s m, SADD k m) folds exactly.
  if (cmd.args.length !== (c.family === 'zset' ? at + 1 : at + cmd.spec.step)) return undefined
  // By its bytes as the server sees them: a member sent once as a Buffer and once as text is
  // one member.
  return keyIdentity(cmd.args[at]!)
}

/**
 * In-batch coalescing, keep last: a command is skipped when a later command of the same
 * family on the same key and element (SET then SETEX on one key, HSET of one field...)
 * follows with nothing else touching the key in between. Anything else on the key (LPUSH,
 * INCR, DEL after SET...) ends the run, so the order of non-idempotent commands and of
 * commands of different families is exactly the order of submission.
 * On the hot path: one Map lookup per command, no allocation for commands that stand alone.
 */
export function planSends(cmds: readonly RedisCommand[]): SendPlan {
  const send: number[] = []
  const merged = new Map<number, number[]>()
  // The coalescing run of each key: the position (in `send`) of its first command. Its family
  // and element are read back from that command, and only the runs that see several elements
  // (HSET of different fields) get an entry in `more`: one Map entry per command, no object.
  const runs = new Map<string, number>()
  const more = new Map<number, Map<string, number>>()
  let dropped = 0
  for (let i = 0; i < cmds.length; i++) {
    const cmd = cmds[i]!
    const element = elementKey(cmd)
    if (element === undefined) {
      if (runs.size > 0) runs.delete(cmd.key)
      send.push(i)
      continue
    }
    const head = runs.get(cmd.key)
    const headCmd = head === undefined ? undefined : cmds[send[head]!]!
    if (head === undefined || headCmd!.spec.coalesce!.family !== cmd.spec.coalesce!.family) {
      runs.set(cmd.key, send.length)
      send.push(i)
      continue
    }
    const prev = elementKey(headCmd!) === element ? head : more.get(head)?.get(element)
    if (prev === undefined) {
      let m = more.get(head)
      if (m === undefined) {
        m = new Map()
        more.set(head, m)
      }
      m.set(element, send.length)
      send.push(i)
      continue
    }
    dropped++
    const sources = merged.get(prev)
    if (sources) sources.push(i)
    else merged.set(prev, [send[prev]!, i])
    // The later command takes the earlier one's place: nothing else touched the key in
    // between, so sending it earlier changes nothing.
    send[prev] = i
  }
  return { send, merged, dropped }
}

/**
 * The one element of its key a command writes (HSET of one field, SADD or ZADD of one member),
 * with its family; undefined for a command that may touch the key as a whole. Two commands
 * on one key with the same family and different elements commute.
 */
export function elementScope(cmd: RedisCommand): { family: string; element: string } | undefined {
  const element = elementKey(cmd)
  if (element === undefined || element === '') return undefined
  return { family: cmd.spec.coalesce!.family, element }
}

/** What a command coalesces on within its key ('' = the whole key); undefined = it never does. */
function elementKey(cmd: RedisCommand): string | undefined {
  const c = cmd.spec.coalesce
  if (c === undefined || !foldable(cmd)) return undefined
  return c.element === undefined ? '' : elementOf(cmd, c.element)
}

// A TTL Redis takes whatever the clock: it refuses one that overflows a 64-bit millisecond
// time once converted and added to now (seconds past LLONG_MAX / 1000, about 9.2e15; ms
// close to LLONG_MAX). Up to 15 digits of seconds, 18 of milliseconds, is always taken.
const SECONDS = /^[1-9][0-9]{0,14}$/
const MILLISECONDS = /^[1-9][0-9]{0,17}$/
const FLOAT = /^[+-]?(inf|infinity|(\d+\.?\d*|\.\d+)(e[+-]?\d+)?)$/i
const INFINITY = /^[+-]?inf(inity)?$/i

function positiveInteger(arg: unknown, digits: RegExp): boolean {
  if (typeof arg === 'number') return Number.isSafeInteger(arg) && arg > 0
  return typeof arg === 'string' && digits.test(arg)
}

/**
 * A score Redis parses (`strtod`), refusing one that overflows to infinity or underflows to 0
 * (`1e400`, `1e-400`); `inf` itself is a score.
 */
function validScore(score: unknown): boolean {
  if (typeof score === 'number') return !Number.isNaN(score)
  if (typeof score !== 'string' || !FLOAT.test(score)) return false
  if (INFINITY.test(score)) return true
  const n = Number(score)
  if (!Number.isFinite(n)) return false
  // 0 from a mantissa that is not: an underflow.
  return n !== 0 || !/[1-9]/.test(score.split(/e/i)[0]!)
}

/**
 * Whether folding `cmd` with the other commands of its run gives exactly what sending them one
 * after the other would. Not when the server could refuse it on its arguments (SETEX with a
 * bad TTL, ZADD with a score that is not a number): folded, its error would take the valid
 * commands of its run down with it. Not when it deletes the key (EXPIRE with a TTL <= 0): a
 * later EXPIRE would no longer find the key, so it does not replace this one.
 */
function foldable(cmd: RedisCommand): boolean {
  switch (cmd.name) {
    case 'SETEX':
    case 'EXPIRE':
      return positiveInteger(cmd.args[1], SECONDS)
    case 'PSETEX':
    case 'PEXPIRE':
      return positiveInteger(cmd.args[1], MILLISECONDS)
    case 'ZADD':
      return validScore(cmd.args[1])
    default:
      return true
  }
}
