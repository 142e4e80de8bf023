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
  bufferSize?: number
  /** Rows per flush: a flush fires as soon as this many are pending. Default 500. */
  flushSize?: number
  /** Longest time (ms) the oldest pending row waits before a flush. Default 100. */
  flushInterval?: number
  /**
   * Flushes executing at once; beyond it pending rows stay in the buffer and producers are
   * slowed by backpressure instead of memory growing. Default: executor concurrency x 2.
   */
  maxInFlightFlushes?: number
  /** Final failures kept for the `errors` iterator when nobody reads. Default 1 000. */
  errorBufferSize?: number
  /** Receives every final failure instead of the `errors` buffer. Must not throw. */
  onError?: (failure: BatchFailure) => void
  metrics?: MetricsReporter
  /** Aborting it closes the pipeline (see `onAbort`). */
  signal?: AbortSignal
  /** What an aborted construction `signal` does: `drain` (default) writes what is buffered; `abandon` reports it. */
  onAbort?: 'drain' | 'abandon'
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

export interface SubmitOptions {
  /** Cancels a submit that is still waiting for room in the buffer. */
  signal?: AbortSignal
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
  timeoutMs?: number
  /** Same, by signal. */
  signal?: AbortSignal
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
  const s = signal as Partial<AbortSignal> | null | undefined
  if (
    s === undefined ||
    (typeof s?.aborted === 'boolean' && typeof s.addEventListener === 'function')
  )
    return s as AbortSignal | undefined
  throw new BatchSQLError('BATCHSQL_INVALID_CONFIG', `${name} must be an AbortSignal`)
}

/**
 * `close()`'s options, checked: an unknown key (a misspelt `timeout`) would silently mean "no
 * deadline", and a `timeoutMs` `setTimeout` cannot hold would mean "abandon everything now".
 * `Infinity` means no deadline; a negative one has passed already (0).
 */
export function checkedCloseOptions(options: unknown): CloseOptions {
  if (options === undefined) return {}
  if (options === null || typeof options !== 'object')
    throw new BatchSQLError('BATCHSQL_INVALID_CONFIG', 'close() options must be an object')
  const o = options as Record<string, unknown>
  const unknown = Object.keys(o).filter((k) => k !== 'timeoutMs' && k !== 'signal')
  if (unknown.length > 0)
    throw new BatchSQLError(
      'BATCHSQL_INVALID_CONFIG',
      `unknown close() option(s): ${unknown.join(', ')} (expected timeoutMs, signal)`,
    )
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

export const signalOf = (options: SubmitOptions | undefined) =>
  checkedSignal(options?.signal, 'options.signal')
