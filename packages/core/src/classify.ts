import { BatchFailedError, BatchSQLError, isAbortError, TimeoutError } from './errors.js'

/**
 * Every `ErrorReason`. The type is derived from this list, so a reason added to one is in the
 * other (a reason missing from the list would be reported as `unknown`: see `checked`).
 */
export const ERROR_REASONS = [
  'deadlock',
  'lock_timeout',
  'timeout',
  'connection',
  'io',
  'context_canceled',
  'duplicate_key',
  'syntax',
  'data',
  'non_retryable',
  'unknown',
] as const

/**
 * Why a batch (or a row) failed. Sinks map their driver errors onto these; the executor
 * retries or not according to `Classification.retryable`.
 */
export type ErrorReason = (typeof ERROR_REASONS)[number]

export interface Classification {
  reason: ErrorReason
  retryable: boolean
}

const REASONS: ReadonlySet<string> = new Set(ERROR_REASONS)
let warnedBadClassification = false

/**
 * A classifier's answer as BatchSQL can use it. A reason outside `ErrorReason` (a JavaScript
 * classifier returning `err.message`, say) would become a metrics label value per message, an
 * unbounded series count: it is reported as `unknown` (retried as the classifier said), with
 * one process warning.
 */
function checked(r: Classification): Classification {
  if (REASONS.has(r.reason) && typeof r.retryable === 'boolean') return r
  if (!warnedBadClassification) {
    warnedBadClassification = true
    process.emitWarning(
      'BatchSQL: an error classifier returned a reason that is not an ErrorReason (or a non-boolean retryable); reported as "unknown"',
      { code: 'BATCHSQL_BAD_CLASSIFICATION' },
    )
  }
  return { reason: 'unknown', retryable: r.retryable === true }
}

let warnedThrowingClassifier = false

/**
 * Asks one classifier. One that throws is passed over (the next classifier decides), with a
 * warning: a bug in a classifier must not take the batch's bookkeeping down with it (rows
 * already committed would be reported as failed, and the batch missing from the metrics).
 */
function consult(c: ErrorClassifier, err: unknown): Classification | undefined {
  let r: Classification | undefined
  try {
    r = c(err)
  } catch (thrown) {
    if (!warnedThrowingClassifier) {
      warnedThrowingClassifier = true
      process.emitWarning(
        // Its name only: a message could quote the error it was given, row values included.
        `BatchSQL: an error classifier threw (${thrown instanceof Error ? thrown.name : typeof thrown}); passed over, the next classifier decides`,
        { code: 'BATCHSQL_CLASSIFIER_FAILED' },
      )
    }
    return undefined
  }
  return r ? checked(r) : undefined
}

/** Returns a classification for errors it recognises, `undefined` to pass. */
export type ErrorClassifier = (err: unknown) => Classification | undefined

const CONNECTION_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ENOTCONN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'PROTOCOL_CONNECTION_LOST',
  'ERR_SOCKET_CLOSED',
])
const IO_CODES = new Set(['EIO', 'ENOSPC', 'EBUSY', 'EAGAIN', 'EMFILE', 'ENFILE'])
const TIMEOUT_CODES = new Set(['ETIMEDOUT', 'ESOCKETTIMEDOUT', 'ETIME'])

/**
 * Errors BatchSQL has already made final: a failed batch, or a write that may have committed
 * (`BATCHSQL_OUTCOME_UNKNOWN`, from a sink that knows no table or row count). Never retried,
 * whatever a user's or a sink's classifier would say: a retry could write the rows twice.
 */
export function finalClassification(err: unknown): Classification | undefined {
  if (err instanceof BatchFailedError)
    return { reason: REASONS.has(err.reason) ? err.reason : 'unknown', retryable: false }
  if (err instanceof BatchSQLError && err.code === 'BATCHSQL_OUTCOME_UNKNOWN')
    return { reason: 'unknown', retryable: false }
  return undefined
}

/** Classification of errors every sink can raise: aborts, timeouts, socket and file errors. */
export const builtinClassifier: ErrorClassifier = (err) => {
  const final = finalClassification(err)
  if (final) return final
  if (err instanceof TimeoutError) return { reason: 'timeout', retryable: true }
  if (isAbortError(err)) return { reason: 'context_canceled', retryable: false }
  // A sink that finds its configuration unusable only when it writes (a missing optional
  // package): no retry can fix that.
  if (
    err instanceof BatchSQLError &&
    (err.code === 'BATCHSQL_INVALID_CONFIG' || err.code === 'BATCHSQL_INVALID_SCHEMA')
  )
    return { reason: 'non_retryable', retryable: false }
  // An adapter's own "the connection went away" (the Redis adapter's, replies outstanding).
  if (err instanceof BatchSQLError && err.code === 'BATCHSQL_CONNECTION_LOST')
    return { reason: 'connection', retryable: true }
  const code = (err as { code?: unknown } | null)?.code
  if (typeof code === 'string') {
    if (CONNECTION_CODES.has(code)) return { reason: 'connection', retryable: true }
    if (TIMEOUT_CODES.has(code)) return { reason: 'timeout', retryable: true }
    if (IO_CODES.has(code)) return { reason: 'io', retryable: true }
  }
  return undefined
}

/**
 * An ordered list of classifiers. Consulted in this order: the user's classifiers, then the
 * sink's, then the built-in ones; the first answer wins; no answer is `unknown`, not retried
 * (retrying an error nobody understands can double-write a non-idempotent batch). An error
 * BatchSQL already made final (`finalClassification`) is not asked about.
 */
export class ClassifierRegistry {
  private readonly user: ErrorClassifier[] = []
  private readonly sink: ErrorClassifier[] = []

  constructor(user: readonly ErrorClassifier[] = [], sink: readonly ErrorClassifier[] = []) {
    this.user.push(...user)
    this.sink.push(...sink)
  }
  /** Adds a classifier consulted before every sink and built-in classifier. */
  addUser(c: ErrorClassifier): this {
    this.user.push(c)
    return this
  }
  /** Adds a sink (adapter) classifier, consulted after the user's. */
  addSink(c: ErrorClassifier): this {
    this.sink.push(c)
    return this
  }
  classify(err: unknown): Classification {
    const final = finalClassification(err)
    if (final) return final
    for (const c of this.user) {
      const r = consult(c, err)
      if (r) return r
    }
    for (const c of this.sink) {
      const r = consult(c, err)
      if (r) return r
    }
    return builtinClassifier(err) ?? { reason: 'unknown', retryable: false }
  }
}
