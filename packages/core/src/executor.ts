import {
  type Classification,
  ClassifierRegistry,
  type ErrorClassifier,
  finalClassification,
} from './classify.js'
import type {
  Batch,
  BatchExecutor,
  BatchFailure,
  BatchOutcome,
  BatchProcessor,
  BatchProgress,
  ProcessResult,
} from './contract.js'
import {
  AbortedError,
  BatchFailedError,
  BatchSQLError,
  isAbortError,
  isInDoubt,
  markInDoubt,
  TimeoutError,
} from './errors.js'
import { batchSize } from './flat-batch.js'
import { guardReporter } from './guarded-metrics.js'
import { type MetricsReporter, noopMetrics } from './metrics.js'
import { checkedOptions } from './pipeline-options.js'
import type { Request } from './request.js'
import { backoffDelay, type RetryOptions, type RetryPolicy, retryPolicy, sleep } from './retry.js'
import { Semaphore } from './semaphore.js'
import { MAX_TIMER_MS } from './timers.js'

export interface ExecutorOptions {
  /** Batches executing at once, never exceeded. Default 4. */
  concurrency?: number | undefined
  /** Limit of one attempt, in ms. Default 30 000. 0 disables it. */
  timeoutMs?: number | undefined
  retry?: RetryOptions | undefined
  /** Consulted before the sink's and the built-in classifiers. */
  classifiers?: readonly ErrorClassifier[] | undefined
  metrics?: MetricsReporter | undefined
}

/** Every `ExecutorOptions` key: another one is a misspelling, refused rather than ignored. */
export const EXECUTOR_OPTION_KEYS: ReadonlySet<string> = new Set([
  'concurrency',
  'timeoutMs',
  'retry',
  'classifiers',
  'metrics',
] satisfies (keyof ExecutorOptions)[])

const now = () => performance.now()

/**
 * Wraps a sink's processor with what every sink needs: a concurrency limit, a per-attempt
 * timeout, retries with exponential backoff and jitter, and error classification.
 *
 * A batch sleeping in backoff holds no concurrency slot. A timed-out attempt is aborted and
 * its slot is held until the processor has actually stopped, so the limit holds even then
 * and a retry never overlaps the attempt it replaces (which could write twice).
 */
export class RetryingExecutor implements BatchExecutor {
  readonly name: string
  readonly concurrency: number
  readonly registry: ClassifierRegistry
  private readonly semaphore: Semaphore
  private readonly timeoutMs: number
  private readonly policy: RetryPolicy
  private reporter: MetricsReporter = noopMetrics
  /** Batches being executed, and how far each has got (see `progress`). */
  private readonly running = new Map<Batch, BatchProgress>()

  constructor(
    readonly processor: BatchProcessor,
    options: ExecutorOptions = {},
  ) {
    if (typeof (processor as Partial<BatchProcessor> | null)?.process !== 'function')
      throw new BatchSQLError(
        'BATCHSQL_INVALID_CONFIG',
        'createExecutor needs a BatchProcessor (an object with name and process())',
      )
    checkedOptions(options, 'createExecutor()', EXECUTOR_OPTION_KEYS)
    this.name = processor.name
    // The `database` label of every metric (an adapter's `name` option): 42 or '' would
    // become a label value nobody meant.
    if (typeof this.name !== 'string' || this.name === '')
      throw new BatchSQLError('BATCHSQL_INVALID_CONFIG', 'name must be a non-empty string')
    this.concurrency = options.concurrency ?? 4
    if (!Number.isInteger(this.concurrency) || this.concurrency < 1)
      throw new BatchSQLError('BATCHSQL_INVALID_CONFIG', 'concurrency must be a positive integer')
    this.semaphore = new Semaphore(this.concurrency)
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
    // Node's timers take at most 2^31 - 1 ms: past that one fires after 1 ms (every batch
    // would time out at once).
    if (
      typeof this.timeoutMs !== 'number' ||
      !(this.timeoutMs >= 0 && this.timeoutMs <= MAX_TIMER_MS)
    )
      throw new BatchSQLError(
        'BATCHSQL_INVALID_CONFIG',
        `timeoutMs must be a number from 0 (none) to ${MAX_TIMER_MS}`,
      )
    this.policy = retryPolicy(options.retry)
    const sink = processor.classify ? [(e: unknown) => processor.classify!(e)] : []
    // Checked here: a classifier that is not a function would fail at every error, each
    // time passed over with a warning, and the sink's classifiers would decide instead.
    if (
      options.classifiers !== undefined &&
      !(
        Array.isArray(options.classifiers) &&
        options.classifiers.every((c) => typeof c === 'function')
      )
    )
      throw new BatchSQLError(
        'BATCHSQL_INVALID_CONFIG',
        'classifiers must be an array of functions',
      )
    this.registry = new ClassifierRegistry(options.classifiers ?? [], sink)
    this.metrics = options.metrics ?? noopMetrics
  }

  /** Where this executor reports. A reporter set here is guarded: its errors never reach a batch. */
  get metrics(): MetricsReporter {
    return this.reporter
  }
  set metrics(reporter: MetricsReporter) {
    this.reporter = guardReporter(reporter)
  }

  /** Highest number of attempts that ever ran at once. */
  get maxConcurrencyObserved(): number {
    return this.semaphore.maxHeld
  }

  classify(err: unknown): Classification {
    return this.registry.classify(err)
  }

  async execute(batch: Batch, signal: AbortSignal): Promise<BatchOutcome> {
    const { schema } = batch
    const started = now()
    const failures: BatchFailure[] = []
    const size = batchSize(batch)
    // What the next attempt sends: the whole batch first, then only the rows to retry. The
    // batch itself is passed on, not its rows: a flat batch's Request objects are only built
    // if a row fails.
    let current: Batch = batch
    let left = size
    let committed = 0
    let attempt = 0
    // Set once a whole attempt may have committed (its error was marked in doubt): every row
    // failed for good after that may have been written, and is reported as such. Rows whose
    // own failure was in doubt (a Redis command whose reply was lost) are kept in `unsure`.
    let doubt = false
    const unsure = new Set<Request>()
    let deduplicated = 0
    let outcomeUnknown = 0
    let lingering: Promise<unknown> | undefined
    const track = () =>
      this.running.set(batch, { attempts: attempt, committed, failures, pending: current })
    // Final reasons of the rows that failed on their own in the attempt under way: counted
    // once per attempt and reason, like retries, not once per row (a Redis pipeline whose
    // replies were lost fails every command alike: one event, not hundreds).
    let rowReasons: Set<string> | undefined
    const report = (
      failed: readonly Request[],
      cls: Classification,
      error: unknown,
      attempts: number,
      maybeWritten: boolean,
    ) => {
      if (rowReasons !== undefined) rowReasons.add(cls.reason)
      else this.metrics.recordError(this.name, schema.table, `final:${cls.reason}`)
      const unknown =
        maybeWritten ||
        (error instanceof BatchSQLError && error.code === 'BATCHSQL_OUTCOME_UNKNOWN')
      if (unknown) outcomeUnknown += failed.length
      failures.push({
        schema,
        rows: failed,
        reason: cls.reason,
        attempts,
        error:
          error instanceof BatchFailedError && (!unknown || error.code !== 'BATCHSQL_BATCH_FAILED')
            ? error
            : unknown
              ? BatchFailedError.outcomeUnknown(
                  schema.table,
                  cls.reason,
                  attempts,
                  failed.length,
                  error,
                )
              : new BatchFailedError(schema.table, cls.reason, attempts, failed.length, error),
      })
    }
    const finalFail = (
      failed: readonly Request[],
      cls: Classification,
      error: unknown,
      attempts: number,
    ) => {
      if (doubt || unsure.size === 0) return report(failed, cls, error, attempts, doubt)
      const maybe = failed.filter((r) => unsure.has(r))
      const not = maybe.length === 0 ? failed : failed.filter((r) => !unsure.has(r))
      if (not.length > 0) report(not, cls, error, attempts, false)
      if (maybe.length > 0) report(maybe, cls, error, attempts, true)
    }

    while (left > 0) {
      attempt++
      track()
      // Either the whole attempt is retried (it threw) or only the rows that failed on their own.
      let retryAll = false
      const retry: Request[] = []
      let retryCls: Classification | undefined
      // What the retry is for (for rows retried on their own, the first one's error): the
      // cause of rows whose backoff an abort cuts short.
      let retryErr: unknown
      try {
        await this.semaphore.acquire(signal)
      } catch (err) {
        finalFail(current.rows, { reason: 'context_canceled', retryable: false }, err, attempt - 1)
        break
      }
      let result: ProcessResult | undefined | void
      // An attempt given up on while the sink still works on it (waiting for a pool's
      // connection, say) keeps its slot until the sink stops: `concurrency` bounds what runs
      // in the sink, and given-up attempts cannot pile up behind a stuck pool.
      let stillRunning: Promise<unknown> | undefined
      try {
        result = await this.attempt(current, attempt, signal, (work) => {
          stillRunning = work
        })
      } catch (err) {
        if (isInDoubt(err)) doubt = true
        const cls = this.classify(err)
        if (cls.retryable && attempt < this.policy.maxAttempts && !signal.aborted) {
          retryAll = true
          retryCls = cls
          retryErr = err
        } else {
          finalFail(current.rows, this.unretried(cls, attempt, signal), err, attempt)
          left = 0
        }
      } finally {
        const release = () => this.semaphore.release()
        if (stillRunning === undefined) release()
        else {
          lingering = stillRunning
          stillRunning.then(release, release)
        }
      }
      if (result?.deduplicated) deduplicated += result.deduplicated
      if (result?.failures?.length) {
        const rows = current.rows
        const failedIdx = new Set<number>()
        rowReasons = new Set()
        for (const f of result.failures) {
          const row = rows[f.index]
          if (row === undefined || failedIdx.has(f.index)) continue
          failedIdx.add(f.index)
          if (isInDoubt(f.error)) unsure.add(row)
          const cls = this.classify(f.error)
          if (cls.retryable && attempt < this.policy.maxAttempts && !signal.aborted) {
            retry.push(row)
            if (retryCls === undefined) {
              retryCls = cls
              retryErr = f.error
            }
          } else {
            finalFail([row], this.unretried(cls, attempt, signal), f.error, attempt)
          }
        }
        for (const reason of rowReasons)
          this.metrics.recordError(this.name, schema.table, `final:${reason}`)
        rowReasons = undefined
        committed += left - failedIdx.size
      } else if (!retryAll && left > 0) {
        committed += left
      }
      if (!retryAll && retry.length === 0) break
      this.metrics.recordError(this.name, schema.table, `retry:${retryCls!.reason}`)
      try {
        // No slot is held while sleeping.
        await sleep(backoffDelay(this.policy, attempt), signal)
      } catch {
        // Stopped by the abort (the pipeline reports the rows abandoned), not by the error they
        // waited to retry, which stays their cause (a lock timeout, say: what held them up), as
        // for a retryable failure the abort came before.
        finalFail(
          retryAll ? current.rows : retry,
          { reason: 'context_canceled', retryable: false },
          retryErr,
          attempt,
        )
        break
      }
      if (!retryAll) {
        current = { schema, rows: retry }
        left = retry.length
      }
    }

    this.running.delete(batch)
    const failedRows = size - committed
    this.metrics.recordBatch({
      database: this.name,
      table: schema.table,
      rows: size,
      durationSeconds: (now() - started) / 1000,
      status: failedRows === 0 ? 'success' : committed === 0 ? 'failure' : 'partial',
      attempts: attempt,
      committed,
      deduplicated,
      outcomeUnknown,
    })
    return { committed, failures, attempts: attempt, stillRunning: lingering }
  }

  /**
   * The final classification of a failure not retried. One that would have been retried but
   * for the abort (a close deadline) is `context_canceled`, as one whose backoff the abort cut
   * short: its rows were stopped by the deadline (the pipeline reports them abandoned, or of
   * unknown outcome if an attempt may have written them), not by their own error, which
   * stays their `cause`.
   */
  private unretried(cls: Classification, attempt: number, signal: AbortSignal): Classification {
    return cls.retryable && attempt < this.policy.maxAttempts && signal.aborted
      ? { reason: 'context_canceled', retryable: false }
      : cls
  }

  /** One attempt under the timeout; rejects with TimeoutError if it had to be aborted. */
  private async attempt(
    batch: Batch,
    attempt: number,
    outer: AbortSignal,
    givenUp: (work: Promise<unknown>) => void,
  ): Promise<ProcessResult | undefined | void> {
    if (outer.aborted) throw new AbortedError('batch aborted before its attempt', outer.reason)
    const ctl = new AbortController()
    const onOuterAbort = () => ctl.abort(outer.reason)
    outer.addEventListener('abort', onOuterAbort, { once: true })
    const work = Promise.resolve().then(() =>
      this.processor.process(batch, { signal: ctl.signal, attempt }),
    )
    if (this.timeoutMs <= 0) {
      try {
        return await work
      } finally {
        outer.removeEventListener('abort', onOuterAbort)
      }
    }
    let timer: NodeJS.Timeout | undefined
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.timeoutMs)
    })
    try {
      const first = await Promise.race([work, timedOut])
      if (first !== 'timeout') return first
      ctl.abort(new TimeoutError(this.timeoutMs))
      // Wait for the processor to stop (it may still commit: then the batch succeeded). If it
      // ignores the signal for another full timeout, its outcome is unknown: report it as a
      // non-retryable timeout rather than risk writing the batch twice.
      let grace: NodeJS.Timeout | undefined
      const settled = await Promise.race([
        work.then(
          (r) => ({ ok: true as const, r }),
          (e) => ({ ok: false as const, e }),
        ),
        new Promise<'hung'>((resolve) => {
          grace = setTimeout(() => resolve('hung'), this.timeoutMs)
        }),
      ])
      clearTimeout(grace)
      if (settled === 'hung') {
        givenUp(work)
        throw BatchFailedError.outcomeUnknown(
          batch.schema.table,
          'timeout',
          attempt,
          batchSize(batch),
          new TimeoutError(this.timeoutMs),
        )
      }
      if (settled.ok) return outer.aborted ? settled.r : this.abortsAsTimeouts(settled.r)
      // What the attempt failed with once aborted decides: an error already final (the
      // statement may have committed: BATCHSQL_OUTCOME_UNKNOWN) is never turned into a
      // retryable timeout, which would write the rows a second time.
      if (outer.aborted || finalClassification(settled.e) !== undefined) throw settled.e
      const timeout = new TimeoutError(this.timeoutMs, settled.e)
      throw isInDoubt(settled.e) ? markInDoubt(timeout) : timeout
    } finally {
      clearTimeout(timer)
      outer.removeEventListener('abort', onOuterAbort)
    }
  }

  /**
   * Rows the processor reported aborted when this attempt's own timeout stopped it (those a
   * poison-row bisection had not sent yet, say) failed by the timeout, which is retryable: as
   * the abort they would be final `context_canceled`, good rows lost. Other failures (a row
   * already found bad, an outcome already unknown) stay as they are.
   */
  private abortsAsTimeouts(r: ProcessResult | undefined | void): ProcessResult | undefined | void {
    if (!r?.failures?.some((f) => isAbortError(f.error))) return r
    const failures = r.failures.map((f) => {
      if (!isAbortError(f.error)) return f
      const timeout = new TimeoutError(this.timeoutMs, f.error)
      return { index: f.index, error: isInDoubt(f.error) ? markInDoubt(timeout) : timeout }
    })
    return { ...r, failures }
  }

  expedite(): void {
    this.processor.expedite?.()
  }

  progress(batch: Batch): BatchProgress | undefined {
    return this.running.get(batch)
  }

  async close(): Promise<void> {
    await this.processor.close?.()
  }
}

/** An attempt's time limit when `timeoutMs` is not given. */
export const DEFAULT_TIMEOUT_MS = 30_000

/** Wraps a sink's processor with retries, timeout, concurrency limit and classification. */
export function createExecutor(
  processor: BatchProcessor,
  options?: ExecutorOptions,
): RetryingExecutor {
  return new RetryingExecutor(processor, options)
}
