import {
  BatchFailedError,
  BatchSQLError,
  type Classification,
  type ErrorClassifier,
} from '@batchsql/core'

/**
 * Redis error replies start with an upper-case code. These are the server saying "not now":
 * the command was not executed and may be sent again.
 * - LOADING: the server is loading its dataset after a restart.
 * - BUSY: a script or function is running past its time limit.
 * - TRYAGAIN: a multi-key command during resharding.
 * - CLUSTERDOWN / MASTERDOWN: the cluster or the replica's master is unavailable.
 * - MOVED / ASK: the slot lives (or is moving) elsewhere; the command was not executed.
 * - READONLY: a write reached a replica, typically just after a failover.
 * - NOREPLICAS: fewer replicas in sync than `min-replicas-to-write` asks; the master refuses
 *   writes until they catch up (a replica restarting, a failover under way).
 */
const RETRYABLE: Readonly<Record<string, Classification>> = {
  LOADING: { reason: 'io', retryable: true },
  BUSY: { reason: 'lock_timeout', retryable: true },
  TRYAGAIN: { reason: 'connection', retryable: true },
  CLUSTERDOWN: { reason: 'connection', retryable: true },
  MASTERDOWN: { reason: 'connection', retryable: true },
  MOVED: { reason: 'connection', retryable: true },
  ASK: { reason: 'connection', retryable: true },
  READONLY: { reason: 'connection', retryable: true },
  NOREPLICAS: { reason: 'connection', retryable: true },
}

/**
 * Final errors: retrying cannot help.
 * - WRONGTYPE: the key holds another type; the data must change first.
 * - OOM: `maxmemory` reached under `noeviction`. Not retried: memory does not come back within
 *   a backoff of milliseconds, and retrying every failed command piles load on a server that
 *   is already full. The rows are reported at once; add a user classifier if your setup
 *   evicts or scales quickly enough for a retry to succeed.
 * - ERR: syntax, arity, unknown command, value not an integer...
 * - EXECABORT: a transaction refused whole because a queued command was refused. Classified
 *   by those commands' errors (ioredis keeps them as `previousErrors`): a MOVED or LOADING
 *   of one of them is as retryable as it is alone, and nothing of the transaction ran.
 *   When none of them failed, the server refused EXEC itself (it became a replica, a script
 *   runs, memory ran out after they were queued): classified by the code its message names
 *   (`because of: READONLY …`). Final (`syntax`) when neither is known.
 * - NOSCRIPT, NOAUTH, NOPERM, WRONGPASS: configuration errors.
 */
const FINAL: Readonly<Record<string, Classification>> = {
  WRONGTYPE: { reason: 'data', retryable: false },
  OOM: { reason: 'non_retryable', retryable: false },
  ERR: { reason: 'syntax', retryable: false },
  EXECABORT: { reason: 'syntax', retryable: false },
  NOSCRIPT: { reason: 'non_retryable', retryable: false },
  NOAUTH: { reason: 'non_retryable', retryable: false },
  NOPERM: { reason: 'non_retryable', retryable: false },
  WRONGPASS: { reason: 'non_retryable', retryable: false },
}

/** Any other error reply (MISCONF, an unknown code): final. */
const NON_RETRYABLE: Classification = { reason: 'non_retryable', retryable: false }

const VALUE_ERRORS =
  /is not an integer|is not a (valid )?float|out of range|would overflow|invalid expire time|exceeds maximum allowed size|resulting score is not a number|ID specified in XADD/

// ioredis' own errors for a connection that closed or never came up. Their commands may or
// may not have reached the server; the processor decides whether re-sending is safe.
const CONNECTION_MESSAGES = [
  'Connection is closed',
  'Command aborted due to connection close',
  "Cluster isn't ready",
  'Failed to refresh slots cache',
  'None of startup nodes is available',
  'Too many Cluster redirections',
  // The slot map changed between grouping a batch and sending it: nothing was sent.
  'same slots allocation group',
  "Stream isn't writeable",
]
const CONNECTION_NAMES = new Set([
  'MaxRetriesPerRequestError',
  'ClusterAllFailedError',
  // ioredis' AbortError ("Command aborted due to connection close"), not the DOM one: the
  // connection closed under queued commands. Core's meaning of an abort (a signal: not
  // retried) is for BatchSQL's own signals, which never reach ioredis.
  'AbortError',
])

/**
 * A command the server answered `QUEUED` outside a transaction of BatchSQL's: the client is
 * inside a `MULTI` the application opened on it (without a pipeline), so the command did not
 * run; it runs at the application's `EXEC`, or never (`DISCARD`, a failed `WATCH`). Counting
 * it written would be a silent loss; sending a non-idempotent one again could apply it twice.
 * Its outcome is unknown: an idempotent command is retried (as a lock held elsewhere is).
 */
export class ForeignTransactionError extends BatchSQLError {
  declare readonly code: 'BATCHSQL_FOREIGN_TRANSACTION'
  constructor() {
    super(
      'BATCHSQL_FOREIGN_TRANSACTION',
      'the Redis client is inside a MULTI BatchSQL did not open; the command was queued in it, not run',
    )
  }
}

/** True for an error reply from the server (the command was not executed, or failed). */
export function isReplyError(err: unknown): boolean {
  return err instanceof Error && err.name === 'ReplyError'
}

/**
 * Removes row values from an ioredis error: ioredis attaches the failed command as
 * `err.command = { name, args }`, and the args are the row's key and values, verbatim, while
 * errors must give counts, never row values. `command` becomes `{ name, argCount }`. The
 * server's message itself names no value. Idempotent.
 */
export function redactRedisError(err: unknown): void {
  // A transaction's EXECABORT carries the errors of its refused commands, each with its own.
  const previous = (err as { previousErrors?: unknown } | null)?.previousErrors
  if (Array.isArray(previous)) for (const p of previous) redactRedisError(p)
  const e = err as { command?: { name?: unknown; args?: unknown } } | null
  const command = typeof e === 'object' && e !== null ? e.command : undefined
  if (typeof command !== 'object' || command === null || !Array.isArray(command.args)) return
  // A new object: ioredis may share `args` with the Command it sent.
  e!.command = { name: command.name, argCount: command.args.length } as never
}

/** True when `err` means the connection failed: a command's outcome may be unknown. */
export function isConnectionError(err: unknown): boolean {
  if (!(err instanceof Error) || isReplyError(err)) return false
  // The processor's own: replies outstanding when the connection closed, a missing reply.
  if (err instanceof BatchSQLError) return err.code === 'BATCHSQL_CONNECTION_LOST'
  if (CONNECTION_NAMES.has(err.name)) return true
  return CONNECTION_MESSAGES.some((m) => err.message.includes(m))
}

/** The Redis error classifier; consulted after the user's classifiers. */
export const classifyRedisError: ErrorClassifier = (err) => {
  if (err instanceof BatchFailedError) return undefined // final, left to core
  if (isReplyError(err)) {
    const msg = (err as Error).message
    const code = msg.slice(0, msg.search(/[\s]|$/))
    // An ERR about the value (INCRBY on text, an overflow, a bad TTL) is the data's fault,
    // like WRONGTYPE, not a malformed command.
    if (code === 'ERR' && VALUE_ERRORS.test(msg)) return { reason: 'data', retryable: false }
    if (code === 'EXECABORT') {
      const causes = (err as { previousErrors?: unknown }).previousErrors
      if (Array.isArray(causes) && causes.length > 0) {
        const each = causes.map((c) => classifyRedisError(c))
        if (each.every((c) => c?.retryable === true)) return each[0]
        return each.find((c) => c !== undefined && !c.retryable) ?? FINAL.EXECABORT
      }
      // No queued command failed: the server refused EXEC itself, for a state it entered
      // after they were queued (turned replica: READONLY; a script running: BUSY; OOM,
      // MISCONF). Nothing of the transaction ran; the code after "because of:" says why.
      const cause = /because of: (\S+)/.exec(msg)?.[1]
      if (cause !== undefined && cause !== 'EXECABORT')
        return RETRYABLE[cause] ?? FINAL[cause] ?? NON_RETRYABLE
    }
    return RETRYABLE[code] ?? FINAL[code] ?? NON_RETRYABLE
  }
  if (isConnectionError(err)) return { reason: 'connection', retryable: true }
  if (err instanceof ForeignTransactionError) return { reason: 'lock_timeout', retryable: true }
  return undefined
}
