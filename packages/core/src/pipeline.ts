import type { ErrorReason } from './classify.js'
import type { Batch, BatchExecutor, BatchFailure, BatchOutcome } from './contract.js'
import { ErrorStream } from './error-stream.js'
import {
  AbortedError,
  BatchFailedError,
  BatchSQLError,
  ClosedError,
  CloseFailedError,
  ValidationError,
} from './errors.js'
import { batchSize } from './flat-batch.js'
import { guardReporter } from './guarded-metrics.js'
import { KeyOrderGate } from './key-order.js'
import { type MetricsReporter, noopMetrics, type RejectReason } from './metrics.js'
import {
  type BatchSQLConfig,
  type CloseOptions,
  type CloseResult,
  CONFIG_KEYS,
  checkedCloseOptions,
  checkedSignal,
  type PipelineStats,
  parseSubmit,
  positiveInt,
  requireSchema,
  type SubmitOptions,
  signalOf,
} from './pipeline-options.js'
import { readRow, typedError } from './read-row.js'
import { Request } from './request.js'
import type { AnyRow, Schema } from './schema.js'
import {
  type Entry,
  entryRows,
  groupBySchema,
  pushRows,
  readRows,
  rowSlab,
  type Slab,
} from './slab.js'
import { MAX_TIMER_MS } from './timers.js'
import { WaitQueue } from './wait-queue.js'

/** Why a close was cut short: the text of the abandoned rows' `AbortedError`, and its cause. */
interface DeadlineCause {
  readonly text: string
  readonly cause?: unknown
}
const TIMED_OUT: DeadlineCause = { text: 'close deadline passed' }

interface Chunk {
  entries: Entry[]
  /** Rows in `entries`. */
  count: number
  firstAt: number
}

interface Waiter {
  /** What is still to accept, from row `next` on: one `submit()` row or a `submitMany()` call's rows. */
  item: Request | Slab
  /** Rows in `item`. */
  total: number
  next: number
  since: number
  resolve: () => void
  reject: (e: unknown) => void
  signal: AbortSignal | undefined
  onAbort: (() => void) | undefined
}

/**
 * One order scope (a table, unless a schema says otherwise): its groups dispatched and not
 * finished, and the entries held back behind them in flush order (kept as entries, not
 * batches, so that held rows are merged into batches of up to `flushSize` as the buffer
 * would have merged them).
 */
interface ScopeQueue {
  running: number
  held: Entry[]
  /** Per held entry: when the oldest row of the flush it came from entered the buffer. */
  heldSince: number[]
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

function acknowledged(
  accepted: Promise<void>,
  committed: Promise<void> = accepted,
): AcknowledgedSubmit {
  const result = accepted.then(() => committed)
  // A refused row rejects `accepted` and the commit promise alike, and a handler on either is
  // enough: `try { await ack.accepted; await ack } catch {}` never reaches `await ack`, so the
  // commit promise's copy of the refusal is marked handled here (else Node, by default, ends
  // the process on an unhandled rejection, losing every row still buffered). A failure after
  // acceptance stays the caller's to handle, as with any promise.
  accepted.catch(() => result.catch(noop))
  return Object.assign(result, { accepted })
}

const noop = () => {}

/**
 * `refusal`, marked handled for Node: a submit refused because the pipeline is closing or
 * the caller's signal fired. Producers that fire submits without awaiting them (allowed:
 * README, **Backpressure**) meet that at shutdown, and Node's default for an unhandled
 * rejection ends the process in the middle of close(), losing every row still buffered
 * (QA, 2026-11-29: 1,000 of 7,000 accepted rows written). A caller that awaits still gets the
 * rejection; one that does not finds it counted (`rejected_submits`). A ValidationError is
 * left unhandled on purpose: bad rows are a bug to hear about.
 */
function shutdownRefusal(refusal: Promise<void>): Promise<void> {
  refusal.catch(noop)
  return refusal
}

// One shared settled promise: the common submit path allocates nothing for its result.
const ACCEPTED: Promise<void> = Promise.resolve()
const now = () => performance.now()

/** After a close deadline, how long aborted batches get to stop before they are forsaken. */
const ABORT_GRACE_MS = 250

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
  // A batch held back by an unfinished one asks the sink to finish what it holds (SQLite's
  // group commit would otherwise commit only once the event loop is idle).
  private readonly gate = new KeyOrderGate(
    () => this.executor.expedite?.(),
    (batch, seconds) =>
      this.metrics.recordKeyOrderWait?.(this.executor.name, batch.schema.table, seconds),
  )
  private readonly abort = new AbortController()

  private state = OPEN
  private current: Entry[] = []
  private currentCount = 0
  private currentFirstAt = 0
  private readonly ready: Chunk[] = []
  private pendingCount = 0
  private readonly waiters = new WaitQueue<Waiter>()
  private timer: NodeJS.Timeout | undefined
  private inFlightFlushes = 0
  private admitting = false
  /** A submit() row is being read into the buffer (the caller's getters may re-enter). */
  private reading = false
  private inFlightBatches = 0
  /** The executor's concurrency: see `scopeLimit()`. */
  private readonly concurrency: number
  /** Order scopes with groups dispatched or held; removed once they have neither. */
  private readonly scopes = new Map<string, ScopeQueue>()
  /**
   * Rows of held groups that now run outside any flush slot: they keep their room in the
   * buffer until they finish, so memory stays within `bufferSize + maxInFlightFlushes x
   * flushSize` rows.
   */
  private heldRunningRows = 0
  private accepted = 0
  private committed = 0
  private failed = 0
  private flushes = 0
  private deadlinePassed = false
  /** What cut the close short, for the errors of the rows it abandons. */
  private deadlineCause: DeadlineCause = TIMED_OUT
  /** Batches executing now; at the deadline, those that do not stop are settled without them. */
  private readonly running = new Set<Batch>()
  /** Of those, the ones still waiting at the key-order gate: nothing of them was sent. */
  private readonly gated = new Set<Batch>()
  /** Batches settled at the deadline while still running: their late outcome is dropped. */
  private readonly forsaken = new Set<Batch>()
  private forsake: (() => void) | undefined
  /** Timers and listeners to remove once the pipeline has drained. */
  private readonly disarms: (() => void)[] = []
  /** Every row settled (or forsaken): a deadline has nothing left to abort. */
  private drained = false
  /**
   * Resolved by the deadline of a later `close()` (a second SIGTERM's `close({ timeoutMs })`
   * after a `close()` without one), plus the grace: stop waiting for the sink's close.
   */
  private readonly sinkCloseCut = Promise.withResolvers<void>()
  /** Timers and listeners of those late deadlines, removed once closed. */
  private readonly lateDisarms: (() => void)[] = []
  /**
   * Timers of close()'s bounded waits (the deadline's grace, the sink's close). They keep the
   * process alive: a sink whose close never settles holds nothing that would, and the process
   * would exit with close() unresolved (a SIGTERM handler that never finishes). Cleared once
   * close() settles, so that they keep it no longer.
   */
  private readonly closeTimers = new Set<NodeJS.Timeout>()
  private readonly abandoned: BatchFailure[] = []
  private idleResolve: (() => void) | undefined
  private closePromise: Promise<CloseResult> | undefined
  private readonly doneResolvers = Promise.withResolvers<CloseResult>()

  /**
   * Settles when the pipeline has closed, as `close()` does: with its result, or rejected with
   * `CloseFailedError` (result included) if releasing the sink failed.
   */
  readonly done: Promise<CloseResult> = this.doneResolvers.promise

  constructor(config: BatchSQLConfig) {
    // `done` rejects only if closing the sink fails; a caller who never reads `done` learns
    // that from `close()`, so its rejection must not also be an unhandled one.
    this.done.catch(() => {})
    if (!config?.executor || typeof config.executor.execute !== 'function') {
      throw new BatchSQLError('BATCHSQL_INVALID_CONFIG', 'BatchSQL needs an executor')
    }
    this.executor = config.executor
    // A custom executor without one would otherwise fail as "maxInFlightFlushes must be a
    // positive integer" (its default is computed from it), an option the caller never set.
    if (typeof this.executor.concurrency !== 'number' || Number.isNaN(this.executor.concurrency))
      throw new BatchSQLError(
        'BATCHSQL_INVALID_CONFIG',
        "the executor's concurrency must be a number (BatchExecutor.concurrency: batches it executes at once)",
      )
    this.concurrency = Math.max(1, this.executor.concurrency || 1)
    // A misspelt option (`flushsize`) would otherwise be its default without a word. Adapter
    // factories take their own options out before they get here, so this covers them too.
    for (const key of Object.keys(config)) {
      if (!CONFIG_KEYS.has(key))
        throw new BatchSQLError(
          'BATCHSQL_INVALID_CONFIG',
          `unknown option "${key}" (pipeline options: ${[...CONFIG_KEYS].join(', ')}; an adapter's own are in its README)`,
        )
    }
    this.bufferSize = positiveInt('bufferSize', config.bufferSize ?? 10_000)
    this.flushSize = positiveInt('flushSize', config.flushSize ?? 500)
    this.flushInterval = positiveInt('flushInterval', config.flushInterval ?? 100)
    // Node's timers take at most 2^31 - 1 ms; past that one fires after 1 ms, again and again.
    if (this.flushInterval > MAX_TIMER_MS)
      throw new BatchSQLError('BATCHSQL_INVALID_CONFIG', `flushInterval must be <= ${MAX_TIMER_MS}`)
    this.maxInFlightFlushes = positiveInt(
      'maxInFlightFlushes',
      config.maxInFlightFlushes ?? Math.max(2, this.executor.concurrency * 2),
    )
    if (this.flushSize > this.bufferSize) {
      throw new BatchSQLError('BATCHSQL_INVALID_CONFIG', 'flushSize must not exceed bufferSize')
    }
    if (config.onError !== undefined && typeof config.onError !== 'function')
      throw new BatchSQLError('BATCHSQL_INVALID_CONFIG', 'onError must be a function')
    if (config.onAbort !== undefined && config.onAbort !== 'drain' && config.onAbort !== 'abandon')
      throw new BatchSQLError('BATCHSQL_INVALID_CONFIG', "onAbort must be 'drain' or 'abandon'")
    this.metrics = guardReporter(config.metrics ?? noopMetrics)
    this.errorStream = new ErrorStream(
      positiveInt('errorBufferSize', config.errorBufferSize ?? 1_000),
      this.bufferSize + this.maxInFlightFlushes * this.flushSize,
      (n) => this.metrics.recordDroppedErrors(n, this.executor.name),
      config.onError,
    )
    // Checked before the reporter binds this pipeline: one that fails to construct must not
    // stay bound to it (its gauges read, its concurrency counted).
    const signal = checkedSignal(config.signal, 'signal')
    this.bindMetrics()
    if (signal) {
      const onAbort = () => {
        // Nobody awaits this close(): a failure to close the sink reaches the caller through
        // `done` (and `close()`, which returns the same promise).
        // Abandoning by the signal itself: the abandoned rows' errors carry its reason.
        this.close(config.onAbort === 'abandon' ? { signal } : {}).catch(() => {})
      }
      // Closed before the factory returns: a submit() in the same tick is refused, as a
      // per-submit signal already aborted refuses its row.
      if (signal.aborted) onAbort()
      else {
        signal.addEventListener('abort', onAbort, { once: true })
        // A long-lived shutdown signal must not keep every closed pipeline alive.
        this.disarms.push(() => signal.removeEventListener('abort', onAbort))
      }
    }
  }

  /** Reports to `reporter` from now on (the executor too, when it supports it). */
  withMetricsReporter(reporter: MetricsReporter): this {
    this.metrics.unbindGauges?.(this.gauges)
    this.metrics = guardReporter(reporter)
    this.bindMetrics()
    return this
  }

  /** What the reporter reads at scrape time; unbound on close so the pipeline can be collected. */
  private readonly gauges = {
    queueLength: () => this.pendingCount,
    inFlightBatches: () => this.inFlightBatches,
  }

  private bindMetrics(): void {
    const ex = this.executor as BatchExecutor & { metrics?: MetricsReporter }
    if ('metrics' in ex) ex.metrics = this.metrics
    this.metrics.setConcurrencyLimit(this.executor.name, this.executor.concurrency)
    this.metrics.bindGauges(this.executor.name, this.gauges)
  }

  /** Rows the buffer can still take. */
  private get room(): number {
    return this.bufferSize - this.pendingCount - this.heldRunningRows
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
  submit<Row extends AnyRow>(
    schema: Schema<Row>,
    row: NoInfer<Row>,
    options?: SubmitOptions,
  ): Promise<void>
  submit<Row extends AnyRow>(request: Request<Row>, options?: SubmitOptions): Promise<void>
  submit(a: Schema | Request, b?: unknown, c?: SubmitOptions): Promise<void> {
    if (this.state !== OPEN) return this.rejectSubmit('closed', new ClosedError())
    if (!(a instanceof Request)) {
      const room = this.room > 0 && this.waiters.size === 0
      let slab: Slab | undefined
      let signal: AbortSignal | undefined
      try {
        const schema = requireSchema(a, 'submit() needs a schema from defineSchema() or a Request')
        signal = signalOf(c, 'submit()')
        if (signal?.aborted) return this.rejectAborted(signal)
        // The common case: a plain row, and room for it.
        if (room) this.append(schema, b)
        // No room: the row waits as a one-row slab, which the rows after it grow once it is
        // accepted. (Waiting as a Request made every flush after a wait a mixed batch, built
        // as one Request per row.)
        else slab = rowSlab(schema, b)
      } catch (err) {
        // Closed: by the caller's own code, run while the row was read.
        if (err instanceof ClosedError) return this.rejectSubmit('closed', err)
        return this.rejectSubmit('validation', typedError(err))
      }
      return slab === undefined ? ACCEPTED : this.wait(slab, 1, 0, signal)
    }
    let req: Request
    let signal: AbortSignal | undefined
    try {
      let options: SubmitOptions | undefined
      ;[req, options] = parseSubmit('submit()', a, b, c)
      signal = signalOf(options, 'submit()')
    } catch (err) {
      return this.rejectSubmit('validation', typedError(err))
    }
    return this.admit(req, signal)
  }

  /**
   * Like `submit()`, but resolves only when the row's batch has committed, and rejects with
   * the final `BatchFailedError` (reason, attempts, cause) if it did not.
   */
  submitAndWait<Row extends AnyRow>(
    schema: Schema<Row>,
    row: NoInfer<Row>,
    options?: SubmitOptions,
  ): AcknowledgedSubmit
  submitAndWait<Row extends AnyRow>(
    request: Request<Row>,
    options?: SubmitOptions,
  ): AcknowledgedSubmit
  submitAndWait(a: Schema | Request, b?: unknown, c?: SubmitOptions): AcknowledgedSubmit {
    if (this.state !== OPEN) return acknowledged(this.rejectSubmit('closed', new ClosedError()))
    let req: Request
    let signal: AbortSignal | undefined
    try {
      let options: SubmitOptions | undefined
      ;[req, options] = parseSubmit('submitAndWait()', a, b, c)
      signal = signalOf(options, 'submitAndWait()')
    } catch (err) {
      return acknowledged(this.rejectSubmit('validation', typedError(err)))
    }
    const committed = new Promise<void>((resolve, reject) => {
      req.ack = { resolve, reject }
    })
    return acknowledged(this.admit(req, signal), committed)
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
    rows: Iterable<NoInfer<Row>>,
    options?: SubmitOptions,
  ): Promise<void> {
    if (this.state !== OPEN) return this.rejectSubmit('closed', new ClosedError())
    let slab: Slab
    let signal: AbortSignal | undefined
    try {
      requireSchema(schema, 'submitMany() needs a schema from defineSchema()')
      signal = signalOf(options, 'submitMany()')
      if (signal?.aborted) return this.rejectAborted(signal)
      if (rows === null || typeof rows !== 'object' || !(Symbol.iterator in rows)) {
        throw new ValidationError(
          'BATCHSQL_INVALID_ROW',
          `submitMany() for table "${schema.table}" needs an iterable of rows`,
          { table: schema.table },
        )
      }
      slab = readRows(schema, rows)
    } catch (err) {
      return this.rejectSubmit('validation', typedError(err))
    }
    // The rows' iterator (the caller's code) may have closed the pipeline.
    if (this.state !== OPEN) return this.rejectSubmit('closed', new ClosedError())
    let next = 0
    if (this.waiters.size === 0) {
      // Flushes dispatched while accepting free room: take it as it comes, as submit() would.
      while (next < slab.end && this.room > 0) {
        const take = Math.min(slab.end - next, this.room)
        this.enqueueRows(slab, next, next + take)
        next += take
      }
    }
    if (next === slab.end) return ACCEPTED
    return this.wait(slab, slab.end, next, signal)
  }

  private rejectSubmit(reason: RejectReason, err: unknown): Promise<void> {
    this.metrics.recordRejectedSubmit(reason, this.executor.name)
    const refused = Promise.reject(err)
    return reason === 'validation' ? refused : shutdownRefusal(refused)
  }

  /**
   * A signal that had fired before the call (nothing accepted, even with room in the buffer),
   * or before a waiting call's next row was (`accepted` rows were).
   */
  private rejectAborted(signal: AbortSignal, accepted = 0): Promise<void> {
    return this.rejectSubmit(
      'aborted',
      new AbortedError('submit aborted before it was accepted', signal.reason, accepted),
    )
  }

  private admit(req: Request, signal: AbortSignal | undefined): Promise<void> {
    // Reading the row ran the caller's code, which may have closed the pipeline.
    if (this.state !== OPEN) return this.rejectSubmit('closed', new ClosedError())
    if (signal?.aborted) return this.rejectAborted(signal)
    if (this.room > 0 && this.waiters.size === 0) {
      this.enqueue(req)
      return ACCEPTED
    }
    return this.wait(req, 1, 0, signal)
  }

  /** Queues `item`'s rows from `next` on behind earlier waiters; resolves once the last is accepted. */
  private wait(
    item: Request | Slab,
    total: number,
    next: number,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    // Closed by the caller's code while the row was read: close() has already let its waiters
    // go, and would never settle this one.
    if (this.state !== OPEN) return this.rejectSubmit('closed', new ClosedError(undefined, next))
    if (signal?.aborted) return this.rejectAborted(signal, next)
    // Only close() and the caller's signal end a wait (ClosedError, AbortedError): a refusal
    // at shutdown, marked handled as it happens (no cost to a wait that ends accepted).
    const waiting: Promise<void> = new Promise<void>((resolve, reject) => {
      const w: Waiter = {
        item,
        total,
        next,
        since: now(),
        resolve,
        reject: (err) => {
          shutdownRefusal(waiting)
          reject(err)
        },
        signal,
        onAbort: undefined,
      }
      const node = this.waiters.push(w)
      if (signal) {
        w.onAbort = () => {
          if (!this.waiters.remove(node)) return
          // A wait cut short was a wait: left out, the latency would hide the producers that
          // gave up because the buffer stayed full.
          this.metrics.recordEnqueueLatency((now() - w.since) / 1000, this.executor.name)
          this.metrics.recordRejectedSubmit('aborted', this.executor.name)
          w.reject(
            new AbortedError(
              'submit aborted while waiting for room in the buffer',
              signal.reason,
              w.next,
            ),
          )
        }
        signal.addEventListener('abort', w.onAbort, { once: true })
      }
    })
    return waiting
  }

  /**
   * Validates a `submit()` row straight into the buffer: appended to the last entry when that
   * is a growable slab of the same schema, else into a new one. Why: a Request is two objects
   * per row (itself and its values), which on a fast sink cost more than the rest of the
   * buffering; a run of one schema's rows (the common case) needs neither.
   */
  private append(schema: Schema, row: unknown): void {
    const slab = this.growableTail(schema)
    const values = slab === undefined ? [] : slab.values
    const width = schema.columns.length
    const base = values.length
    for (let c = 0; c < width; c++) values.push(undefined)
    // Reading runs the caller's code (getters, toJSON), which may submit to this pipeline,
    // flush it or close it: while it runs no row joins this slab (growableTail), and what it
    // did to the buffer is looked at afterwards.
    const current = this.current
    const wasReading = this.reading
    this.reading = true
    try {
      readRow(schema, row as AnyRow, values, base)
    } catch (err) {
      values.length = base // the rows before it stay as they were
      throw err
    } finally {
      this.reading = wasReading
    }
    if (current !== this.current || this.state !== OPEN) {
      // The flush holding this slab was sealed meanwhile (it may be running without the row),
      // or close() began: the row goes to the current flush on its own, or is refused.
      const own = values.slice(base, base + width)
      values.length = base
      if (this.state !== OPEN) throw new ClosedError()
      this.current.push({ schema, values: own, start: 0, end: 1, growable: true })
    } else if (slab === undefined) {
      this.current.push({ schema, values, start: 0, end: 1, growable: true })
    } else slab.end++
    this.took(1)
  }

  private enqueue(req: Request): void {
    this.current.push(req)
    this.took(1)
  }

  /** The buffer's last entry when it is a growable slab of `schema` (rows can be appended). */
  private growableTail(schema: Schema): Slab | undefined {
    if (this.reading) return undefined
    const last = this.current[this.current.length - 1]
    return last !== undefined &&
      !(last instanceof Request) &&
      last.growable &&
      last.schema === schema
      ? last
      : undefined
  }

  /** Counts `n` rows just put into the current flush; seals and starts it once full. */
  private took(n: number): void {
    this.accepted += n
    this.pendingCount += n
    if (this.currentCount === 0) this.startInterval()
    this.currentCount += n
    if (this.currentCount >= this.flushSize) {
      this.seal()
      this.pump()
    }
  }

  /** Accepts rows `[from, to)` of a slab, cut where flushes fill up. */
  private enqueueRows(slab: Slab, from: number, to: number): void {
    while (from < to) {
      const take = Math.min(to - from, this.flushSize - this.currentCount)
      const last = slab.growable ? this.growableTail(slab.schema) : undefined
      if (last !== undefined) {
        // A submit() row that waited for room joins the run of rows before it (with many
        // producers waiting, a flush would otherwise hold one slab per row).
        pushRows(last.values, slab.values, from, from + take, slab.schema.columns.length)
        last.end += take
      } else {
        this.current.push(
          from === slab.start && from + take === slab.end
            ? slab
            : {
                schema: slab.schema,
                values: slab.values,
                start: from,
                end: from + take,
                growable: false,
              },
        )
      }
      from += take
      this.took(take)
    }
  }

  private startInterval(): void {
    this.currentFirstAt = now()
    if (this.timer === undefined) this.timer = setTimeout(this.onInterval, this.flushInterval)
  }

  private readonly onInterval = (): void => {
    this.timer = undefined
    // The timer belongs to an earlier chunk that filled up and left early: the current chunk
    // gets its own full interval (else it would be flushed young, and small, under load).
    const age = now() - this.currentFirstAt
    if (this.currentCount > 0 && age < this.flushInterval) {
      this.timer = setTimeout(this.onInterval, Math.max(1, this.flushInterval - age))
      return
    }
    this.seal()
    this.pump()
  }

  private seal(): void {
    if (this.currentCount === 0) return
    this.ready.push({
      entries: this.current,
      count: this.currentCount,
      firstAt: this.currentFirstAt,
    })
    this.current = []
    this.currentCount = 0
  }

  /** Starts flushes while there is ready work and a free flush slot. */
  private pump(): void {
    while (this.ready.length > 0 && this.inFlightFlushes < this.maxInFlightFlushes) {
      // Merge small chunks (sealed by the interval while slots were busy) up to flushSize.
      // Taken in one splice and copied once: a `shift()` and a `concat()` per chunk were
      // quadratic, and 40,000 one-row chunks (flushInterval 1 under a stalled sink) blocked
      // the event loop for 3 s.
      const ready = this.ready
      let count = ready[0]!.count
      let end = 1
      while (end < ready.length && count + ready[end]!.count <= this.flushSize)
        count += ready[end++]!.count
      const taken = ready.splice(0, end)
      let entries = taken[0]!.entries
      if (end > 1) {
        entries = []
        for (const chunk of taken) for (const e of chunk.entries) entries.push(e)
      }
      this.dispatch(entries, count, taken[0]!.firstAt)
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
    while (this.waiters.size > 0 && this.room > 0 && this.state === OPEN) {
      const node = this.waiters.first()!
      const w = node.value
      const item = w.item
      if (item instanceof Request) {
        this.enqueue(item)
        w.next = 1
      } else {
        while (w.next < w.total && this.room > 0) {
          const take = Math.min(w.total - w.next, this.room)
          const from = w.next
          // Advanced first: enqueueRows() may re-enter pump(), which must see the rows as taken.
          w.next += take
          this.enqueueRows(item, from, from + take)
        }
        if (w.next < w.total) break // a submitMany() still waiting for room
      }
      // Not shift(): code of the caller's run while admitting (a metrics reporter) may have
      // aborted this waiter's signal, which took it out (rejected, with what was accepted).
      if (!this.waiters.remove(node)) continue
      if (w.onAbort) w.signal?.removeEventListener('abort', w.onAbort)
      this.metrics.recordEnqueueLatency((now() - w.since) / 1000, this.executor.name)
      w.resolve()
    }
  }

  private dispatch(entries: Entry[], count: number, firstAt: number): void {
    this.flushes++
    // The slot is taken before the rows leave `pendingCount`: a metrics reporter called below
    // may close() the pipeline, which must not find it idle with this flush still to run.
    this.inFlightFlushes++
    this.pendingCount -= count
    const t0 = now()
    const groups = this.admitToScopes(entries, firstAt)
    // Rows held behind a busy table are still waiting: their wait is recorded when they run.
    if (groups.length > 0) this.metrics.recordQueueWait((t0 - firstAt) / 1000, this.executor.name)
    this.metrics.recordAssembleDuration((now() - t0) / 1000, this.executor.name)
    this.metrics.recordFlush(count, groups.length, this.executor.name)
    // Groups run independently, and an order scope has at most `scopeLimit()` (about the
    // executor's concurrency) groups dispatched: its others wait, in order, in its held queue,
    // as buffered rows. So a table whose batches are slow or keep retrying holds at most that
    // many batches (and leaves an executor slot to the other tables at work), and its
    // further batches wait in the buffer while other tables keep flowing. Once the buffer is
    // full of its rows, submit() waits for every table (one shared buffer): a table that can
    // stall for long belongs in a pipeline of its own. The flush holds its slot until the
    // groups it ran (not those it held) have finished.
    // (Groups finish asynchronously, so `remaining` cannot reach 0 before all have started.)
    let remaining = 0
    const onGroupDone = () => {
      if (--remaining === 0) this.inFlightFlushes--
    }
    for (const g of groups) {
      remaining++
      this.runInScope(g, this.scopeOf(g.schema.orderScope), onGroupDone)
    }
    if (remaining === 0) this.inFlightFlushes-- // every group held: the flush holds no slot
  }

  /**
   * The groups of a flush's entries to run now. Entries of a scope at its limit, or with
   * entries held already (never past them: a scope's rows reach the key-order gate in
   * order), join its held queue and count as buffered again.
   */
  private admitToScopes(entries: Entry[], firstAt: number): Batch[] {
    let run: Entry[] | undefined
    const limit = this.scopeLimit(entries)
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!
      const scope = this.scopes.get(e.schema.orderScope)
      if (scope !== undefined && (scope.held.length > 0 || scope.running >= limit)) {
        // The common flush (every scope free) copies nothing.
        run ??= entries.slice(0, i)
        scope.held.push(e)
        scope.heldSince.push(firstAt)
        this.pendingCount += entryRows(e)
      } else run?.push(e)
    }
    const toRun = run ?? entries
    return toRun.length === 0 ? [] : groupBySchema(toRun)
  }

  /**
   * Groups one order scope may have dispatched: the executor's concurrency while it is the
   * only scope at work, one fewer while others are, in the pipeline or in the flush being
   * dispatched (so that a table whose attempts are slow, not failing, cannot hold every
   * executor slot, even when the other tables' batches finish at once; a single table still
   * gets them all). Checked per flush, so the groups of several schemas sharing a scope in one
   * flush may pass it.
   */
  private scopeLimit(flush?: readonly Entry[]): number {
    if (this.concurrency === 1) return 1
    if (this.scopes.size > 1) return this.concurrency - 1
    if (flush !== undefined && flush.length > 0) {
      const first = flush[0]!.schema.orderScope
      if (this.scopes.size === 1 && !this.scopes.has(first)) return this.concurrency - 1
      for (let i = 1; i < flush.length; i++)
        if (flush[i]!.schema.orderScope !== first) return this.concurrency - 1
    }
    return this.concurrency
  }

  private scopeOf(name: string): ScopeQueue {
    let scope = this.scopes.get(name)
    if (scope === undefined) {
      scope = { running: 0, held: [], heldSince: [] }
      this.scopes.set(name, scope)
    }
    return scope
  }

  /**
   * Runs a group of `scope`: one its flush ran (`flushDone` releases the flush's slot once all
   * are done), or one made of held entries (outside any flush slot: its rows keep their room
   * in the buffer until it is done). When it finishes, held entries of the scope, up to
   * `flushSize` rows, run as the next batch.
   */
  private runInScope(batch: Batch, scope: ScopeQueue, flushDone?: () => void): void {
    scope.running++
    const rows = flushDone === undefined ? batchSize(batch) : 0
    this.heldRunningRows += rows
    void this.runGroup(batch).then(() => {
      flushDone?.()
      this.heldRunningRows -= rows
      scope.running--
      while (scope.held.length > 0 && scope.running < this.scopeLimit()) {
        const since = scope.heldSince[0]!
        const taken = this.takeHeld(scope)
        this.metrics.recordQueueWait((now() - since) / 1000, this.executor.name)
        for (const g of groupBySchema(taken)) this.runInScope(g, scope)
      }
      if (scope.running === 0) this.scopes.delete(batch.schema.orderScope)
      this.pump()
    })
  }

  /** The oldest held entries of `scope`, whole, up to `flushSize` rows (at least one entry). */
  private takeHeld(scope: ScopeQueue): Entry[] {
    let n = entryRows(scope.held[0]!)
    let end = 1
    while (end < scope.held.length && n + entryRows(scope.held[end]!) <= this.flushSize)
      n += entryRows(scope.held[end++]!)
    const taken = scope.held.splice(0, end)
    scope.heldSince.splice(0, end)
    this.pendingCount -= n
    return taken
  }

  private async runGroup(batch: Batch): Promise<void> {
    const schema = batch.schema
    this.inFlightBatches++
    this.running.add(batch)
    let outcome: BatchOutcome
    let release: (() => void) | undefined
    let lingering: Promise<unknown> | undefined
    let sent = false
    try {
      if (schema.hasConflictHandling) {
        this.gated.add(batch)
        try {
          release = await this.gate.enter(batch)
        } finally {
          this.gated.delete(batch)
        }
      }
      // Forsaken before it was sent, so at the gate: settled, counted and out of the in-flight
      // gauge at the close deadline already (forsakeRunning). Not sent.
      if (this.forsaken.has(batch)) outcome = { committed: 0, attempts: 0, failures: [] }
      else {
        sent = true
        outcome = await this.executor.execute(batch, this.abort.signal)
        lingering = outcome.stillRunning
      }
    } catch (err) {
      // Executors report rather than throw; this is a defect guard, and still loses nothing:
      // once the executor had the batch, some of it may have been written.
      const rows = batchSize(batch)
      const attempts = sent ? 1 : 0
      const e = sent
        ? BatchFailedError.outcomeUnknown(schema.table, 'unknown', attempts, rows, err)
        : new BatchFailedError(schema.table, 'unknown', attempts, rows, err)
      outcome = {
        committed: 0,
        attempts,
        failures: [{ schema, rows: batch.rows, reason: 'unknown', attempts, error: e }],
      }
      // The executor reports each batch it finishes; this one it did not.
      this.recordFailedBatch(schema.table, rows, 'unknown', attempts, sent ? rows : 0)
    } finally {
      // A write given up on but still running keeps its keys: a later batch on them waits.
      if (lingering !== undefined && release !== undefined) lingering.then(release, release)
      else release?.()
      // (One forsaken unsent left the gauge at the deadline.)
      if (sent || !this.forsaken.has(batch)) this.inFlightBatches--
      this.running.delete(batch)
    }
    // Settled at the close deadline already (reported as of unknown outcome).
    if (this.forsaken.delete(batch)) {
      if (this.state === CLOSED && this.forsaken.size === 0)
        this.metrics.unbindGauges?.(this.gauges)
      return
    }
    this.settle(batch, outcome)
  }

  private settle(batch: Batch, outcome: BatchOutcome): void {
    this.committed += outcome.committed
    let failedSet: Set<Request> | undefined
    const reported: BatchFailure[] = []
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
      reported.push(failure)
    }
    if (reported.length > 0) this.errorStream.pushAll(reported)
    // Only submitAndWait() rows carry acks, and they are always Requests: a flat batch has none.
    if (batch.values !== undefined) return
    for (const r of batch.rows) {
      if (r.ack && !failedSet?.has(r)) {
        r.ack.resolve()
        r.ack = undefined
      }
    }
  }

  private markAbandoned(f: BatchFailure): BatchFailure {
    // A batch forsaken while running keeps its code: it was maybe written, not surely not.
    // One already marked (never sent: abandonRemaining) is not wrapped a second time.
    const failure: BatchFailure =
      f.error.code === 'BATCHSQL_OUTCOME_UNKNOWN' || f.error.code === 'BATCHSQL_ABANDONED'
        ? f
        : {
            ...f,
            error: new BatchFailedError(
              f.schema.table,
              'context_canceled',
              f.attempts,
              f.rows.length,
              // What stopped it (the abort), not the executor's wrapper of it.
              f.error instanceof BatchFailedError && f.error.cause !== undefined
                ? f.error.cause
                : f.error,
              'BATCHSQL_ABANDONED',
            ),
          }
    this.abandoned.push(failure)
    return failure
  }

  private checkIdle(): void {
    // Held groups count as pending rows until they run, and as dispatched (`scopes`) until done.
    if (
      this.idleResolve &&
      this.pendingCount === 0 &&
      this.inFlightFlushes === 0 &&
      this.scopes.size === 0
    ) {
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
    // Checked before anything changes: a bad option must not leave the pipeline half closed.
    try {
      options = checkedCloseOptions(options)
    } catch (err) {
      return Promise.reject(err)
    }
    if (this.closePromise) {
      // Already closing (e.g. drained by the construction signal): a later call may still
      // impose a deadline, as a SIGTERM handler would: on the draining, or once that is over,
      // on the wait for the sink's close.
      if (this.state !== CLOSED)
        this.lateDisarms.push(this.armDeadline(options, (why) => this.lateDeadline(why)))
      return this.closePromise
    }
    this.closePromise = this.doClose(options)
    return this.closePromise
  }

  /** Resolves after `ms`, unless close() has settled by then (see `closeTimers`). */
  private delay(ms: number): Promise<void> {
    // Closed already: nothing is left to wait for, and no timer may outlive close().
    if (this.state === CLOSED) return Promise.resolve()
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.closeTimers.delete(timer)
        resolve()
      }, ms)
      this.closeTimers.add(timer)
    })
  }

  /**
   * The deadline of a `close()` after the first: what is still draining is abandoned, as at the
   * first call's deadline, and the wait for the sink's close ends after the same grace (the
   * aborted batches' 250 ms if they were still running, then the sink's 250 ms).
   */
  private lateDeadline(why?: DeadlineCause): void {
    const grace = this.drained ? ABORT_GRACE_MS : 2 * ABORT_GRACE_MS
    if (!this.drained) this.abandonRemaining(why)
    void this.delay(grace).then(() => this.sinkCloseCut.resolve())
  }

  private armDeadline(
    options: CloseOptions,
    onDeadline: (why?: DeadlineCause) => void = (why) => this.abandonRemaining(why),
  ): () => void {
    let timer: NodeJS.Timeout | undefined
    if (options.timeoutMs !== undefined)
      timer = setTimeout(() => onDeadline(), Math.max(0, options.timeoutMs))
    const { signal } = options
    // The abandoned rows' errors say what cut the close short: its signal's reason, not a
    // deadline the caller never set.
    const onAbort = () => onDeadline({ text: 'close aborted by its signal', cause: signal?.reason })
    if (signal) {
      if (signal.aborted) queueMicrotask(onAbort)
      else signal.addEventListener('abort', onAbort, { once: true })
    }
    return () => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
    }
  }

  /**
   * `closing`, or the close deadline (`timeoutMs` from `startedAt`, or `signal`) plus the
   * grace, whichever comes first; without a deadline, `closing`.
   */
  private async untilDeadline(
    closing: Promise<void> | undefined,
    options: CloseOptions,
    startedAt: number,
  ): Promise<void> {
    const { timeoutMs, signal } = options
    if (timeoutMs === undefined && signal === undefined) return closing
    let onAbort: (() => void) | undefined
    const waits: Promise<unknown>[] = [Promise.resolve(closing)]
    if (timeoutMs !== undefined)
      // Capped: past a timer's range setTimeout fires at once (timeoutMs may be up to it).
      waits.push(
        this.delay(
          Math.min(MAX_TIMER_MS, Math.max(0, startedAt + timeoutMs - now()) + ABORT_GRACE_MS),
        ),
      )
    if (signal !== undefined) {
      waits.push(
        signal.aborted
          ? this.delay(ABORT_GRACE_MS)
          : new Promise<void>((resolve) => {
              const listener = () => resolve(this.delay(ABORT_GRACE_MS))
              onAbort = listener
              signal.addEventListener('abort', listener, { once: true })
              // This wait can lose its race to a later close()'s deadline and never reach its
              // `finally`: the listener goes when close() settles, with the other disarms.
              this.lateDisarms.push(() => signal.removeEventListener('abort', listener))
            }),
      )
    }
    try {
      await Promise.race(waits)
    } finally {
      if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort)
    }
  }

  private async doClose(options: CloseOptions): Promise<CloseResult> {
    this.state = CLOSING
    for (const w of this.waiters.drain()) {
      if (w.onAbort) w.signal?.removeEventListener('abort', w.onAbort)
      this.metrics.recordEnqueueLatency((now() - w.since) / 1000, this.executor.name)
      this.metrics.recordRejectedSubmit('closed', this.executor.name)
      w.reject(
        new ClosedError(
          w.total === 1
            ? 'BatchSQL closed while the submit waited for room; the row was not accepted'
            : `BatchSQL closed while the submit waited for room; ${w.total - w.next} of ${w.total} row(s) were not accepted`,
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
    const forsaken = new Promise<void>((resolve) => {
      this.forsake = resolve
    })
    const startedAt = now()
    this.disarms.push(this.armDeadline(options))
    this.seal()
    this.pump()
    await Promise.race([idle, forsaken])
    this.drained = true
    for (const disarm of this.disarms.splice(0)) disarm()
    let closeError: unknown
    try {
      const closing = this.executor.close?.()
      const cut = this.sinkCloseCut.promise
      // A sink still busy with a forsaken batch (a pool waiting for its connection), or with
      // a write the executor gave up on (a pool's close waits for its checked-out client), is
      // not waited for past the deadline either, nor past a later call's; without any
      // deadline its close is awaited in full.
      if (this.forsaken.size > 0) await Promise.race([closing, this.delay(ABORT_GRACE_MS), cut])
      else await Promise.race([this.untilDeadline(closing, options, startedAt), cut])
    } catch (err) {
      closeError = err
    } finally {
      for (const disarm of this.lateDisarms.splice(0)) disarm()
      for (const timer of this.closeTimers) clearTimeout(timer)
      this.closeTimers.clear()
      this.state = CLOSED
      this.errorStream.end()
      // A batch a deadline forsook may still run on the server: in-flight keeps counting it
      // until it ends (runGroup unbinds then).
      if (this.forsaken.size === 0) this.metrics.unbindGauges?.(this.gauges)
    }
    const result: CloseResult = {
      accepted: this.accepted,
      committed: this.committed,
      failed: this.failed,
      abandoned: this.abandoned,
      abandonedRows: this.abandoned.reduce((n, f) => n + f.rows.length, 0),
    }
    if (closeError !== undefined) {
      // Every row is settled by now; only releasing the sink (e.g. ending its pool) failed.
      // `done` must settle too, or whoever awaits it would hang.
      const err = new CloseFailedError(result, closeError)
      this.doneResolvers.reject(err)
      throw err
    }
    this.doneResolvers.resolve(result)
    return result
  }

  /**
   * Metrics of a batch the executor did not report (never sent, or the executor threw): a
   * final error and a failed batch, as the executor records a batch it finishes.
   */
  private recordFailedBatch(
    table: string,
    rows: number,
    reason: ErrorReason,
    attempts: number,
    outcomeUnknown = 0,
  ): void {
    const database = this.executor.name
    this.metrics.recordError(database, table, `final:${reason}`)
    this.metrics.recordBatch({
      database,
      table,
      rows,
      durationSeconds: 0,
      status: 'failure',
      attempts,
      committed: 0,
      outcomeUnknown,
    })
  }

  /** Deadline passed: abort in-flight batches and report rows that never left the buffer. */
  private abandonRemaining(why: DeadlineCause = TIMED_OUT): void {
    if (this.state === CLOSED || this.deadlinePassed) return
    this.deadlinePassed = true
    this.deadlineCause = why
    this.abort.abort(new AbortedError(why.text, why.cause))
    this.seal()
    // Held groups were never sent either: abandoned like the buffer's rows (held ones first,
    // being older), and no finishing group of their scope runs them after.
    for (const [name, scope] of this.scopes) {
      if (scope.held.length > 0) {
        const held = scope.held
        for (const e of held) this.pendingCount -= entryRows(e)
        scope.held = []
        scope.heldSince = []
        for (const batch of groupBySchema(held)) this.abandonUnsent(batch, why)
      }
      if (scope.running === 0) this.scopes.delete(name)
    }
    const chunks = this.ready.splice(0)
    for (const c of chunks) {
      this.pendingCount -= c.count
      for (const batch of groupBySchema(c.entries)) this.abandonUnsent(batch, why)
    }
    this.checkIdle()
    // Aborted batches get a moment to stop (and to be reported as canceled, for certain);
    // those still running then are settled as of unknown outcome, and close() goes on.
    const timer = setTimeout(() => this.forsakeRunning(), ABORT_GRACE_MS)
    this.disarms.push(() => clearTimeout(timer))
  }

  /** Reports a batch that never reached the executor as abandoned (`BATCHSQL_ABANDONED`). */
  private abandonUnsent(batch: Batch, why: DeadlineCause): void {
    const { schema, rows } = batch
    const error = new BatchFailedError(
      schema.table,
      'context_canceled',
      0,
      rows.length,
      new AbortedError(why.text, why.cause),
      'BATCHSQL_ABANDONED',
    )
    // Never sent, so the executor reports nothing of it: counted here, as a failed batch.
    this.recordFailedBatch(schema.table, rows.length, 'context_canceled', 0)
    this.settle(batch, {
      committed: 0,
      attempts: 0,
      failures: [{ schema, rows, reason: 'context_canceled', attempts: 0, error }],
    })
  }

  private forsakeRunning(): void {
    const why = this.deadlineCause
    for (const batch of this.running) {
      const { schema } = batch
      const gated = this.gated.has(batch)
      // What the executor has settled already (rows committed, rows failed for good) is
      // reported as such; only the rows still being written are of unknown outcome.
      const progress = gated ? undefined : this.executor.progress?.(batch)
      const pending = progress?.pending ?? batch
      const attempts = progress?.attempts ?? 1
      // A batch still at the gate never reached the sink: surely not written (markAbandoned
      // gives it BATCHSQL_ABANDONED). One past it may have been.
      const error = gated
        ? new BatchFailedError(
            schema.table,
            'context_canceled',
            0,
            batchSize(batch),
            new AbortedError(`${why.text} while the batch waited for an earlier one`, why.cause),
          )
        : BatchFailedError.outcomeUnknown(
            schema.table,
            'context_canceled',
            attempts,
            batchSize(pending),
            new AbortedError(`${why.text} while the batch was running`, why.cause),
          )
      this.forsaken.add(batch)
      // A batch at the gate is counted now, as one never sent (abandonUnsent): waiting for the
      // batch ahead of it, which may run for as long as its statement does, would leave its
      // rows out of the failures and in the in-flight gauge, and for ever if that never ends.
      // Any other is not counted here: the executor records it, and its error if any, when
      // (if) the sink returns, as it really ended (counting it here too would count it twice).
      if (gated) {
        this.inFlightBatches--
        this.recordFailedBatch(schema.table, batchSize(batch), 'context_canceled', 0)
      }
      const failures: BatchFailure[] = [...(progress?.failures ?? [])]
      if (batchSize(pending) > 0)
        failures.push({ schema, rows: pending.rows, reason: 'context_canceled', attempts, error })
      // settle() lists the unknown ones in `abandoned`, keeping their code (see markAbandoned).
      this.settle(batch, { committed: progress?.committed ?? 0, attempts, failures })
    }
    this.running.clear()
    this.forsake?.()
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
      waitingSubmits: this.waiters.size,
      inFlightFlushes: this.inFlightFlushes,
      inFlightBatches: this.inFlightBatches,
      droppedErrors: this.errorStream.dropped,
      flushes: this.flushes,
    }
  }
}

export function createBatchSQL(config: BatchSQLConfig): BatchSQL {
  return new BatchSQL(config)
}
