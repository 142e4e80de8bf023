import type { BatchExecutor, BatchFailure, BatchOutcome } from './contract.js'
import { ErrorStream } from './error-stream.js'
import {
  AbortedError,
  BatchFailedError,
  BatchSQLError,
  ClosedError,
  ValidationError,
} from './errors.js'
import { KeyOrderGate } from './key-order.js'
import { type MetricsReporter, noopMetrics, type RejectReason } from './metrics.js'
import { Request } from './request.js'
import type { AnyRow, Schema } from './schema.js'

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

export interface SubmitOptions {
  /** Cancels a submit that is still waiting for room in the buffer. */
  signal?: AbortSignal
}

export interface CloseOptions {
  /** Stop waiting after this many ms: in-flight batches are aborted and reported as abandoned. */
  timeoutMs?: number
  /** Same, by signal. */
  signal?: AbortSignal
}

export interface CloseResult {
  /** Rows submitted and accepted over the pipeline's life. */
  readonly accepted: number
  readonly committed: number
  readonly failed: number
  /** Rows not written because the close deadline passed (each also in the error stream). */
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
  readonly inFlightBatches: number
  readonly droppedErrors: number
  readonly flushes: number
}

interface Chunk {
  rows: Request[]
  firstAt: number
}

interface Waiter {
  /** The rows still to accept, from `next` on (one row for `submit()`, several for `submitMany()`). */
  reqs: Request[]
  next: number
  since: number
  resolve: () => void
  reject: (e: unknown) => void
  signal: AbortSignal | undefined
  onAbort: (() => void) | undefined
}

const OPEN = 0
const CLOSING = 1
const CLOSED = 2
const STATE_NAMES = ['open', 'closing', 'closed'] as const
/**
 * What `submitAndWait()` returns: a promise of the row's commit that also exposes
 * `accepted`, which resolves as soon as the row is in the buffer. A producer that awaits
 * `accepted` gets the same backpressure as `submit()` while it tracks commits on the side.
 */
export type AcknowledgedSubmit = Promise<void> & { readonly accepted: Promise<void> }

function acknowledged(rejected: Promise<void>): AcknowledgedSubmit {
  // `accepted` and the commit promise reject alike; only one of them needs a handler.
  return Object.assign(
    rejected.then(() => undefined),
    { accepted: rejected },
  )
}

// One shared settled promise: the common submit path allocates nothing for its result.
const ACCEPTED: Promise<void> = Promise.resolve()
const now = () => performance.now()

function positiveInt(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) {
    throw new BatchSQLError('BATCHSQL_INVALID_CONFIG', `${name} must be a positive integer`)
  }
  return v
}

/**
 * The pipeline: `submit()` rows from anywhere; they are buffered, flushed by size or time,
 * split per schema and handed to the executor. Every accepted row is either committed or
 * reported (acknowledged submit, `errors` stream, `onError`), including at shutdown.
 */
export class BatchSQL implements AsyncDisposable {
  private readonly executor: BatchExecutor
  private readonly bufferSize: number
  private readonly flushSize: number
  private readonly flushInterval: number
  private readonly maxInFlightFlushes: number
  private metrics: MetricsReporter
  private readonly errorStream: ErrorStream
  private readonly gate = new KeyOrderGate()
  private readonly abort = new AbortController()

  private state = OPEN
  private current: Request[] = []
  private currentFirstAt = 0
  private readonly ready: Chunk[] = []
  private pendingCount = 0
  private readonly waiters: Waiter[] = []
  private timer: NodeJS.Timeout | undefined
  private inFlightFlushes = 0
  private admitting = false
  private inFlightBatches = 0
  private accepted = 0
  private committed = 0
  private failed = 0
  private flushes = 0
  private deadlinePassed = false
  private readonly abandoned: BatchFailure[] = []
  private idleResolve: (() => void) | undefined
  private closePromise: Promise<CloseResult> | undefined
  private readonly doneResolvers = Promise.withResolvers<CloseResult>()

  /** Resolves when the pipeline has closed, with the same result as `close()`. */
  readonly done: Promise<CloseResult> = this.doneResolvers.promise

  constructor(config: BatchSQLConfig) {
    if (!config?.executor || typeof config.executor.execute !== 'function') {
      throw new BatchSQLError('BATCHSQL_INVALID_CONFIG', 'BatchSQL needs an executor')
    }
    this.executor = config.executor
    this.bufferSize = positiveInt('bufferSize', config.bufferSize ?? 10_000)
    this.flushSize = positiveInt('flushSize', config.flushSize ?? 500)
    this.flushInterval = positiveInt('flushInterval', config.flushInterval ?? 100)
    this.maxInFlightFlushes = positiveInt(
      'maxInFlightFlushes',
      config.maxInFlightFlushes ?? Math.max(2, this.executor.concurrency * 2),
    )
    if (this.flushSize > this.bufferSize) {
      throw new BatchSQLError('BATCHSQL_INVALID_CONFIG', 'flushSize must not exceed bufferSize')
    }
    this.metrics = config.metrics ?? noopMetrics
    this.errorStream = new ErrorStream(
      positiveInt('errorBufferSize', config.errorBufferSize ?? 1_000),
      (n) => this.metrics.recordDroppedErrors(n),
      config.onError,
    )
    this.bindMetrics()
    const signal = config.signal
    if (signal) {
      const onAbort = () => {
        void this.close(config.onAbort === 'abandon' ? { timeoutMs: 0 } : {})
      }
      if (signal.aborted) queueMicrotask(onAbort)
      else signal.addEventListener('abort', onAbort, { once: true })
    }
  }

  /** Reports to `reporter` from now on (the executor too, when it supports it). */
  withMetricsReporter(reporter: MetricsReporter): this {
    this.metrics = reporter
    this.bindMetrics()
    return this
  }

  private bindMetrics(): void {
    const ex = this.executor as BatchExecutor & { metrics?: MetricsReporter }
    if ('metrics' in ex) ex.metrics = this.metrics
    this.metrics.setConcurrencyLimit(this.executor.name, this.executor.concurrency)
    this.metrics.bindGauges(this.executor.name, {
      queueLength: () => this.pendingCount,
      inFlightBatches: () => this.inFlightBatches,
    })
  }

  /** Final failures, for `for await`. Ends after `close()` once drained. */
  get errors(): AsyncIterable<BatchFailure> {
    return this.errorStream
  }

  /**
   * Validates and enqueues one row (a copy of it: later changes to `row` are not seen).
   * Resolves once the row is accepted into the buffer, after waiting for room if the buffer
   * is full. Rejects with `ValidationError` for bad input, `ClosedError` once `close()` has
   * begun, `AbortedError` if `options.signal` fires while waiting. A resolved submit is
   * written or reported, never dropped.
   */
  submit<Row extends AnyRow>(schema: Schema<Row>, row: Row, options?: SubmitOptions): Promise<void>
  submit<Row extends AnyRow>(request: Request<Row>, options?: SubmitOptions): Promise<void>
  submit(a: Schema | Request, b?: unknown, c?: SubmitOptions): Promise<void> {
    if (this.state !== OPEN) return this.rejectSubmit('closed', new ClosedError())
    let req: Request
    let options: SubmitOptions | undefined
    try {
      ;[req, options] = parseSubmit('submit()', a, b, c)
    } catch (err) {
      return this.rejectSubmit('validation', err)
    }
    return this.admit(req, options?.signal)
  }

  /**
   * Like `submit()`, but resolves only when the row's batch has committed, and rejects with
   * the final `BatchFailedError` (reason, attempts, cause) if it did not.
   */
  submitAndWait<Row extends AnyRow>(
    schema: Schema<Row>,
    row: Row,
    options?: SubmitOptions,
  ): AcknowledgedSubmit
  submitAndWait<Row extends AnyRow>(
    request: Request<Row>,
    options?: SubmitOptions,
  ): AcknowledgedSubmit
  submitAndWait(a: Schema | Request, b?: unknown, c?: SubmitOptions): AcknowledgedSubmit {
    if (this.state !== OPEN) return acknowledged(this.rejectSubmit('closed', new ClosedError()))
    let req: Request
    let options: SubmitOptions | undefined
    try {
      ;[req, options] = parseSubmit('submitAndWait()', a, b, c)
    } catch (err) {
      return acknowledged(this.rejectSubmit('validation', err))
    }
    const committed = new Promise<void>((resolve, reject) => {
      req.ack = { resolve, reject }
    })
    const accepted = this.admit(req, options?.signal)
    return Object.assign(
      accepted.then(() => committed),
      { accepted },
    )
  }

  /**
   * Validates and enqueues many rows of one schema: `submit()` for each, with one promise and
   * none of the per-row await (for callers that already hold rows in bulk: a consumer's message
   * batch, a file chunk). Every row is validated before any is accepted: one bad row rejects the
   * call with its `ValidationError` (its `row` is the index) and nothing is enqueued. Resolves
   * when the last row is accepted, waiting for room as `submit()` does; rows are accepted in
   * order as room frees, so `rows` may be larger than `bufferSize`. If the wait ends early
   * (`options.signal`, `close()`), the `AbortedError` / `ClosedError` says in `acceptedRows` how
   * many leading rows were accepted: those are written or reported like any other, the rest
   * were not.
   */
  submitMany<Row extends AnyRow>(
    schema: Schema<Row>,
    rows: Iterable<Row>,
    options?: SubmitOptions,
  ): Promise<void> {
    if (this.state !== OPEN) return this.rejectSubmit('closed', new ClosedError())
    const reqs: Request[] = []
    try {
      requireSchema(schema, 'submitMany() needs a schema from defineSchema()')
      if (rows === null || typeof rows !== 'object' || !(Symbol.iterator in rows)) {
        throw new ValidationError(
          'BATCHSQL_EMPTY_ROW',
          `submitMany() for table "${schema.table}" needs an iterable of rows`,
          { table: schema.table },
        )
      }
      for (const row of rows) {
        try {
          reqs.push(Request.from(schema, row as AnyRow))
        } catch (err) {
          throw atRow(err, reqs.length)
        }
      }
    } catch (err) {
      return this.rejectSubmit('validation', err)
    }
    let next = 0
    if (this.waiters.length === 0) {
      while (next < reqs.length && this.pendingCount < this.bufferSize) this.enqueue(reqs[next++]!)
    }
    if (next === reqs.length) return ACCEPTED
    return this.wait(reqs, next, options?.signal)
  }

  private rejectSubmit(reason: RejectReason, err: unknown): Promise<void> {
    this.metrics.recordRejectedSubmit(reason)
    return Promise.reject(err)
  }

  private admit(req: Request, signal: AbortSignal | undefined): Promise<void> {
    if (this.pendingCount < this.bufferSize && this.waiters.length === 0) {
      this.enqueue(req)
      return ACCEPTED
    }
    return this.wait([req], 0, signal)
  }

  /** Queues `reqs[next..]` behind earlier waiters; resolves once the last of them is accepted. */
  private wait(reqs: Request[], next: number, signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted)
      return this.rejectSubmit(
        'aborted',
        new AbortedError('submit aborted before it was accepted', signal.reason, next),
      )
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = { reqs, next, since: now(), resolve, reject, signal, onAbort: undefined }
      if (signal) {
        w.onAbort = () => {
          const i = this.waiters.indexOf(w)
          if (i < 0) return
          this.waiters.splice(i, 1)
          this.metrics.recordRejectedSubmit('aborted')
          reject(
            new AbortedError(
              'submit aborted while waiting for room in the buffer',
              signal.reason,
              w.next,
            ),
          )
        }
        signal.addEventListener('abort', w.onAbort, { once: true })
      }
      this.waiters.push(w)
    })
  }

  private enqueue(req: Request): void {
    this.accepted++
    this.pendingCount++
    const cur = this.current
    cur.push(req)
    if (cur.length === 1) {
      this.currentFirstAt = now()
      if (this.timer === undefined) this.timer = setTimeout(this.onInterval, this.flushInterval)
    }
    if (cur.length >= this.flushSize) {
      this.seal()
      this.pump()
    }
  }

  private readonly onInterval = (): void => {
    this.timer = undefined
    this.seal()
    this.pump()
  }

  private seal(): void {
    if (this.current.length === 0) return
    this.ready.push({ rows: this.current, firstAt: this.currentFirstAt })
    this.current = []
  }

  /** Starts flushes while there is ready work and a free flush slot. */
  private pump(): void {
    while (this.ready.length > 0 && this.inFlightFlushes < this.maxInFlightFlushes) {
      // Merge small chunks (sealed by the interval while slots were busy) up to flushSize.
      const first = this.ready.shift()!
      let rows = first.rows
      while (this.ready.length > 0 && rows.length + this.ready[0]!.rows.length <= this.flushSize) {
        rows = rows.concat(this.ready.shift()!.rows)
      }
      this.dispatch(rows, first.firstAt)
    }
    this.admitWaiters()
    this.checkIdle()
  }

  private admitWaiters(): void {
    // enqueue() can pump() and so re-enter here while the head waiter is half admitted; the
    // outer call finishes the job.
    if (this.admitting) return
    this.admitting = true
    try {
      this.admitWaitersNow()
    } finally {
      this.admitting = false
    }
  }

  private admitWaitersNow(): void {
    while (this.waiters.length > 0 && this.pendingCount < this.bufferSize && this.state === OPEN) {
      const w = this.waiters[0]!
      while (w.next < w.reqs.length && this.pendingCount < this.bufferSize) {
        this.enqueue(w.reqs[w.next++]!)
      }
      if (w.next < w.reqs.length) break // a submitMany() still waiting for room
      this.waiters.shift()
      if (w.onAbort) w.signal?.removeEventListener('abort', w.onAbort)
      this.metrics.recordEnqueueLatency((now() - w.since) / 1000)
      w.resolve()
    }
  }

  private dispatch(rows: Request[], firstAt: number): void {
    this.inFlightFlushes++
    this.flushes++
    this.pendingCount -= rows.length
    const t0 = now()
    this.metrics.recordQueueWait((t0 - firstAt) / 1000)
    const groups = groupBySchema(rows)
    this.metrics.recordAssembleDuration((now() - t0) / 1000)
    this.metrics.recordFlush(rows.length, groups.length)
    let remaining = groups.length
    const onGroupDone = () => {
      if (--remaining === 0) {
        this.inFlightFlushes--
        this.pump()
      }
    }
    // Groups run independently: one table failing never holds back another.
    for (const g of groups) void this.runGroup(g).then(onGroupDone)
  }

  private async runGroup(rows: Request[]): Promise<void> {
    const schema = rows[0]!.schema
    this.inFlightBatches++
    let outcome: BatchOutcome
    let release: (() => void) | undefined
    try {
      if (schema.hasConflictHandling) release = await this.gate.enter(schema, rows)
      outcome = await this.executor.execute({ schema, rows }, this.abort.signal)
    } catch (err) {
      // Executors report rather than throw; this is a defect guard, and still loses nothing.
      const e = new BatchFailedError(schema.table, 'unknown', 1, rows.length, err)
      outcome = {
        committed: 0,
        attempts: 1,
        failures: [{ schema, rows, reason: 'unknown', attempts: 1, error: e }],
      }
    } finally {
      release?.()
      this.inFlightBatches--
    }
    this.settle(rows, outcome)
  }

  private settle(rows: Request[], outcome: BatchOutcome): void {
    this.committed += outcome.committed
    let failedSet: Set<Request> | undefined
    for (const f of outcome.failures) {
      this.failed += f.rows.length
      const failure =
        this.deadlinePassed && f.reason === 'context_canceled' ? this.markAbandoned(f) : f
      for (const r of f.rows) {
        if (r.ack) {
          r.ack.reject(failure.error)
          r.ack = undefined
        }
      }
      failedSet ??= new Set()
      for (const r of f.rows) failedSet.add(r)
      this.errorStream.push(failure)
    }
    for (const r of rows) {
      if (r.ack && !failedSet?.has(r)) {
        r.ack.resolve()
        r.ack = undefined
      }
    }
  }

  private markAbandoned(f: BatchFailure): BatchFailure {
    const failure: BatchFailure = {
      ...f,
      error: new BatchFailedError(
        f.schema.table,
        'context_canceled',
        f.attempts,
        f.rows.length,
        f.error,
        'BATCHSQL_ABANDONED',
      ),
    }
    this.abandoned.push(failure)
    return failure
  }

  private checkIdle(): void {
    if (this.idleResolve && this.pendingCount === 0 && this.inFlightFlushes === 0) {
      const r = this.idleResolve
      this.idleResolve = undefined
      r()
    }
  }

  /**
   * Stops intake (waiting submits are rejected with `ClosedError`), flushes everything
   * buffered, waits for every in-flight batch, then closes the executor. With a deadline
   * (`timeoutMs` / `signal`), what is not written by then is aborted and reported in
   * `abandoned`. Idempotent: every call returns the same promise.
   */
  close(options: CloseOptions = {}): Promise<CloseResult> {
    if (this.closePromise) {
      // Already closing (e.g. drained by the construction signal): a later call may still
      // impose a deadline, as a SIGTERM handler would.
      if (this.state !== CLOSED) this.armDeadline(options)
      return this.closePromise
    }
    this.closePromise = this.doClose(options)
    return this.closePromise
  }

  private armDeadline(options: CloseOptions): () => void {
    let timer: NodeJS.Timeout | undefined
    const onDeadline = () => this.abandonRemaining()
    if (options.timeoutMs !== undefined)
      timer = setTimeout(onDeadline, Math.max(0, options.timeoutMs))
    if (options.signal) {
      if (options.signal.aborted) queueMicrotask(onDeadline)
      else options.signal.addEventListener('abort', onDeadline, { once: true })
    }
    return () => {
      clearTimeout(timer)
      options.signal?.removeEventListener('abort', onDeadline)
    }
  }

  private async doClose(options: CloseOptions): Promise<CloseResult> {
    this.state = CLOSING
    for (const w of this.waiters.splice(0)) {
      if (w.onAbort) w.signal?.removeEventListener('abort', w.onAbort)
      this.metrics.recordRejectedSubmit('closed')
      w.reject(
        new ClosedError(
          w.reqs.length === 1
            ? 'BatchSQL closed while the submit waited for room; the row was not accepted'
            : `BatchSQL closed while the submit waited for room; ${w.reqs.length - w.next} of ${w.reqs.length} row(s) were not accepted`,
          w.next,
        ),
      )
    }
    if (this.timer !== undefined) {
      clearTimeout(this.timer)
      this.timer = undefined
    }
    const idle = new Promise<void>((resolve) => {
      this.idleResolve = resolve
    })
    const disarm = this.armDeadline(options)
    this.seal()
    this.pump()
    await idle
    disarm()
    try {
      await this.executor.close?.()
    } finally {
      this.state = CLOSED
      this.errorStream.end()
    }
    const result: CloseResult = {
      accepted: this.accepted,
      committed: this.committed,
      failed: this.failed,
      abandoned: this.abandoned,
      abandonedRows: this.abandoned.reduce((n, f) => n + f.rows.length, 0),
    }
    this.doneResolvers.resolve(result)
    return result
  }

  /** Deadline passed: abort in-flight batches and report rows that never left the buffer. */
  private abandonRemaining(): void {
    if (this.state === CLOSED || this.deadlinePassed) return
    this.deadlinePassed = true
    this.abort.abort(new AbortedError('close deadline passed'))
    this.seal()
    const chunks = this.ready.splice(0)
    for (const c of chunks) {
      this.pendingCount -= c.rows.length
      for (const rows of groupBySchema(c.rows)) {
        const schema = rows[0]!.schema
        const error = new BatchFailedError(
          schema.table,
          'context_canceled',
          0,
          rows.length,
          new AbortedError('close deadline passed'),
          'BATCHSQL_ABANDONED',
        )
        this.settle(rows, {
          committed: 0,
          attempts: 0,
          failures: [{ schema, rows, reason: 'context_canceled', attempts: 0, error }],
        })
      }
    }
    this.checkIdle()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  stats(): PipelineStats {
    return {
      state: STATE_NAMES[this.state]!,
      accepted: this.accepted,
      committed: this.committed,
      failed: this.failed,
      pending: this.pendingCount,
      waitingSubmits: this.waiters.length,
      inFlightFlushes: this.inFlightFlushes,
      inFlightBatches: this.inFlightBatches,
      droppedErrors: this.errorStream.dropped,
      flushes: this.flushes,
    }
  }
}

function requireSchema(a: unknown, message: string): Schema {
  if (!a || typeof a !== 'object' || !('indexOf' in a)) {
    throw new ValidationError('BATCHSQL_MISSING_SCHEMA', message)
  }
  return a as Schema
}

/** `(schema, row, options)` or `(request, options)`: the Request to enqueue and the options. */
function parseSubmit(
  call: string,
  a: unknown,
  b: unknown,
  c: SubmitOptions | undefined,
): [Request, SubmitOptions | undefined] {
  if (a instanceof Request) return [copyRequest(a), b as SubmitOptions | undefined]
  const schema = requireSchema(a, `${call} needs a schema from defineSchema() or a Request`)
  return [Request.from(schema, b as AnyRow), c]
}

/** A submitted Request is copied so later setter calls on the caller's object change nothing. */
function copyRequest(src: Request): Request {
  const r = new Request(src.schema)
  let set = 0
  for (let i = 0; i < src.values.length; i++) {
    const v = src.values[i]
    r.values[i] = v
    if (v !== undefined) set++
  }
  if (set === 0) {
    throw new ValidationError(
      'BATCHSQL_EMPTY_ROW',
      `row for table "${src.schema.table}" sets no column`,
      {
        table: src.schema.table,
      },
    )
  }
  src.schema.validate?.(r.values)
  return r
}

/** The error of row `index` of a `submitMany()` call: same code, the index in `row`. */
function atRow(err: unknown, index: number): unknown {
  if (!(err instanceof ValidationError)) return err
  return new ValidationError(err.code, `row ${index}: ${err.message}`, {
    table: err.table,
    column: err.column,
    row: index,
    cause: err.cause,
  })
}

/** Splits rows by schema, keeping submit order within each group. */
function groupBySchema(rows: Request[]): Request[][] {
  const first = rows[0]!.schema
  let single = true
  for (let i = 1; i < rows.length; i++) {
    if (rows[i]!.schema !== first) {
      single = false
      break
    }
  }
  if (single) return [rows]
  const groups = new Map<Schema, Request[]>()
  for (const r of rows) {
    const g = groups.get(r.schema)
    if (g) g.push(r)
    else groups.set(r.schema, [r])
  }
  return [...groups.values()]
}

export function createBatchSQL(config: BatchSQLConfig): BatchSQL {
  return new BatchSQL(config)
}
