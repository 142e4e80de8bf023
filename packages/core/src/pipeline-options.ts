/**
 * The pipeline's options and results (its public types), and the checks its entry points run
 * on their arguments before anything changes: a bad option or argument is a typed error, never
 * a silently ignored key or a timer that fires at once.
 */
import type { BatchExecutor, BatchFailure } from './contract.js'
import { BatchSQLError, ValidationError } from './errors.js'
import type { MetricsReporter } from './metrics.js'
import { copyRequest, Request } from './request.js'
import type { AnyRow, Schema } from './schema.js'
import { MAX_TIMER_MS } from './timers.js'

export interface BatchSQLConfig {
  /** Where batches go: usually `createExecutor(processor)` or an adapter's factory. */
  executor: BatchExecutor
  /** Rows that may wait for a flush; `submit()` waits for room beyond it. Default 10 000. */
  bufferSize?: number | undefined
  /** Rows per flush: a flush fires as soon as this many are pending. Default 500. */
  flushSize?: number | undefined
  /** Longest time (ms) the oldest pending row waits before a flush. Default 100. */
  flushInterval?: number | undefined
  /**
   * Flushes executing at once; beyond it pending rows stay in the buffer and producers are
   * slowed by backpressure instead of memory growing. Default: executor concurrency x 2.
   */
  maxInFlightFlushes?: number | undefined
  /** Final failures kept for the `errors` iterator when nobody reads. Default 1 000. */
  errorBufferSize?: number | undefined
  /** Receives every final failure instead of the `errors` buffer. Must not throw. */
  onError?: ((failure: BatchFailure) => void) | undefined
  metrics?: MetricsReporter | undefined
  /** Aborting it closes the pipeline (see `onAbort`). */
  signal?: AbortSignal | undefined
  /** What an aborted construction `signal` does: `drain` (default) writes what is buffered; `abandon` reports it. */
  onAbort?: 'drain' | 'abandon' | undefined
}

export const CONFIG_KEYS: ReadonlySet<string> = new Set([
  'executor',
  'bufferSize',
  'flushSize',
  'flushInterval',
  'maxInFlightFlushes',
  'errorBufferSize',
  'onError',
  'metrics',
  'signal',
  'onAbort',
] satisfies (keyof BatchSQLConfig)[])

/**
 * Options of `submit()`, `submitAndWait()`, `submitMany()`. Another key, or options that are
 * not an object, reject the call with `BATCHSQL_INVALID_CONFIG`.
 */
export interface SubmitOptions {
  /** Cancels a submit that is still waiting for room in the buffer. */
  signal?: AbortSignal | undefined
}

export interface CloseOptions {
  /**
   * Stop waiting after this many ms (up to 2^31 - 1; `Infinity`: no deadline; anything else,
   * or an unknown option, rejects with `BATCHSQL_INVALID_CONFIG` and changes nothing): in-flight
   * batches are aborted and reported as abandoned,
   * and `close()` resolves by then, plus at most 0.5 s (250 ms for aborted batches to stop,
   * 250 ms for the sink to close): a batch whose sink ignores the abort is reported with code
   * `BATCHSQL_OUTCOME_UNKNOWN` (it may still commit), not waited for.
   */
  timeoutMs?: number | undefined
  /** Same, by signal. */
  signal?: AbortSignal | undefined
}

export interface CloseResult {
  /** Rows submitted and accepted over the pipeline's life. */
  readonly accepted: number
  readonly committed: number
  readonly failed: number
  /**
   * Rows not written because the close deadline passed (each also in the error stream); those
   * of a batch still running then carry code `BATCHSQL_OUTCOME_UNKNOWN`: they may be written.
   */
  readonly abandoned: readonly BatchFailure[]
  readonly abandonedRows: number
}

export interface PipelineStats {
  readonly state: 'open' | 'closing' | 'closed'
  readonly accepted: number
  readonly committed: number
  readonly failed: number
  readonly pending: number
  readonly waitingSubmits: number
  readonly inFlightFlushes: number
  /**
   * Batches dispatched and not finished: executing, in backoff, or waiting for an executor
   * slot or at the key-order gate. After a `close({ timeoutMs })` that gave up on running
   * batches (reported `BATCHSQL_OUTCOME_UNKNOWN`), it still counts them until the sink returns:
   * the statement may still be running on the server.
   */
  readonly inFlightBatches: number
  readonly droppedErrors: number
  readonly flushes: number
}

export function positiveInt(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) {
    throw new BatchSQLError('BATCHSQL_INVALID_CONFIG', `${name} must be a positive integer`)
  }
  return v
}

export function requireSchema(a: unknown, message: string): Schema {
  if (!a || typeof a !== 'object' || !('indexOf' in a)) {
    throw new ValidationError('BATCHSQL_MISSING_SCHEMA', message)
  }
  return a as Schema
}

/** `(schema, row, options)` or `(request, options)`: the Request to enqueue and the options. */
export function parseSubmit(
  call: string,
  a: unknown,
  b: unknown,
  c: SubmitOptions | undefined,
): [Request, SubmitOptions | undefined] {
  if (a instanceof Request) return [copyRequest(a), b as SubmitOptions | undefined]
  const schema = requireSchema(a, `${call} needs a schema from defineSchema() or a Request`)
  return [Request.from(schema, b as AnyRow), c]
}

/**
 * A signal option, checked: anything that is not an AbortSignal there is a caller's mistake.
 * Checked by shape, not `instanceof`: a signal of another realm or of a polyfill is one.
 */
export function checkedSignal(signal: unknown, name: string): AbortSignal | undefined {
  if (signal === undefined || isSignal(signal)) return signal
  throw new BatchSQLError('BATCHSQL_INVALID_CONFIG', `${name} must be an AbortSignal`)
}

function isSignal(value: unknown): value is AbortSignal {
  const s = value as Partial<AbortSignal> | null
  return typeof s?.aborted === 'boolean' && typeof s.addEventListener === 'function'
}

/**
 * An options argument of `what` (a call: `close()`), checked: an object whose keys are all in `keys` (when given).
 * `undefined` is the caller's to default. Null, a primitive, an array or an AbortSignal is
 * refused by name: `Object.keys()` of an array or of a signal finds no unknown key, so each
 * would otherwise pass as "no options" (`close(AbortSignal.timeout(200))`: no deadline at all).
 * Judged by shape, not by prototype: an options object of another realm is one.
 */
export function checkedOptions(
  options: unknown,
  what: string,
  keys?: ReadonlySet<string>,
): Record<string, unknown> {
  if (options === null || typeof options !== 'object' || Array.isArray(options))
    throw new BatchSQLError('BATCHSQL_INVALID_CONFIG', `${what} options must be an object`)
  if (isSignal(options))
    throw new BatchSQLError(
      'BATCHSQL_INVALID_CONFIG',
      `${what} options must be an object, not an AbortSignal: pass it as { signal }`,
    )
  if (keys !== undefined) {
    const unknown = Object.keys(options).filter((k) => !keys.has(k))
    if (unknown.length > 0)
      throw new BatchSQLError(
        'BATCHSQL_INVALID_CONFIG',
        `unknown ${what} option(s): ${unknown.map((k) => `"${k}"`).join(', ')} (expected ${[...keys].join(', ')})`,
      )
  }
  return options as Record<string, unknown>
}

const CLOSE_KEYS: ReadonlySet<string> = new Set([
  'timeoutMs',
  'signal',
] satisfies (keyof CloseOptions)[])
const SUBMIT_KEYS: ReadonlySet<string> = new Set(['signal'] satisfies (keyof SubmitOptions)[])

/**
 * `close()`'s options, checked: an unknown key (a misspelt `timeout`) would silently mean "no
 * deadline", and a `timeoutMs` `setTimeout` cannot hold would mean "abandon everything now".
 * `Infinity` means no deadline; a negative one has passed already (0).
 */
export function checkedCloseOptions(options: unknown): CloseOptions {
  if (options === undefined) return {}
  const o = checkedOptions(options, 'close()', CLOSE_KEYS)
  const signal = checkedSignal(o.signal, 'close() options.signal')
  let timeoutMs = o.timeoutMs
  if (timeoutMs === Number.POSITIVE_INFINITY) timeoutMs = undefined
  if (
    timeoutMs !== undefined &&
    (typeof timeoutMs !== 'number' || Number.isNaN(timeoutMs) || timeoutMs > MAX_TIMER_MS)
  )
    throw new BatchSQLError(
      'BATCHSQL_INVALID_CONFIG',
      `close() timeoutMs must be a number of ms up to ${MAX_TIMER_MS}, or Infinity for no deadline`,
    )
  return { timeoutMs: timeoutMs as number | undefined, signal }
}

/**
 * The signal of a submit call's options, which are checked as close()'s are (a misspelt
 * `sginal`, or the signal passed as the options, would silently mean "no signal"). Only when
 * given: the common call passes none and pays nothing for the check.
 */
export function signalOf(
  options: SubmitOptions | undefined,
  call: string,
): AbortSignal | undefined {
  if (options === undefined) return undefined
  const o = checkedOptions(options, call, SUBMIT_KEYS)
  return checkedSignal(o.signal, `${call} options.signal`)
}
