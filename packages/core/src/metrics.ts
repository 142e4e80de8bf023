/**
 * What the pipeline and executor report. Calls happen per flush or per batch, never per
 * row, except `recordEnqueueLatency`, which is called only for submits that had to wait for
 * room (the immediate path costs nothing). Durations are in seconds (Prometheus base units).
 */
export interface BatchMetrics {
  /** The sink, e.g. `postgres`. */
  readonly database: string
  readonly table: string
  readonly rows: number
  /** From the first attempt's start to the final outcome, retries and backoff included. */
  readonly durationSeconds: number
  readonly status: 'success' | 'failure' | 'partial'
  readonly attempts: number
  /** Rows committed (rows that failed individually are not counted). */
  readonly committed: number
  /**
   * Rows the sink merged into another row of the batch with the same conflict key before
   * writing (committed through it), as the sink reported them: a merged row that failed is
   * not counted until an attempt commits it. 0 or absent when none.
   */
  readonly deduplicated?: number
  /**
   * Of the rows not committed (`rows - committed`), those reported `BATCHSQL_OUTCOME_UNKNOWN`:
   * they may have been written (a reply lost after the statement was sent). 0 or absent when none.
   */
  readonly outcomeUnknown?: number
}

/** Gauges the reporter reads when it is scraped, not on every change. */
export interface PipelineGauges {
  /** Rows accepted and waiting for a flush. */
  queueLength(): number
  /**
   * Batches dispatched and not finished: executing, in backoff, or still waiting for an
   * executor slot or at the key-order gate (so it may exceed the concurrency limit).
   */
  inFlightBatches(): number
}

/** Every `RejectReason` (the type is derived from it). */
export const REJECT_REASONS = ['closed', 'aborted', 'validation'] as const
export type RejectReason = (typeof REJECT_REASONS)[number]

/**
 * `database` (the sink's name, e.g. `postgres`) is the last parameter of the pipeline-level
 * calls so that one process's pipelines on different databases are told apart, and so that a
 * reporter written before it was passed (ignoring it) still fits this interface.
 */
export interface MetricsReporter {
  /** Time a submit waited for room in the buffer (backpressure), also when its signal or close() ended the wait. */
  recordEnqueueLatency(seconds: number, database: string): void
  /**
   * How long rows waited in the buffer before their batch started: the age of the oldest row
   * of a flush when its batches start; for rows held behind a busy table, recorded when they
   * run (the age of the oldest row of the flush that held them).
   */
  recordQueueWait(seconds: number, database: string): void
  /** Rows in a flush, and into how many schema groups it split. */
  recordFlush(rows: number, schemaGroups: number, database: string): void
  /** Time spent splitting a flush into schema groups. */
  recordAssembleDuration(seconds: number, database: string): void
  /** One executed batch (after its final attempt). */
  recordBatch(m: BatchMetrics): void
  /**
   * An error, as `retry:<reason>` when it will be retried, `final:<reason>` when not: once per
   * failed attempt, or per attempt and reason for rows that failed on their own.
   */
  recordError(database: string, table: string, errorType: string): void
  recordRejectedSubmit(reason: RejectReason, database: string): void
  /** Error events dropped because the error stream's buffer was full. */
  recordDroppedErrors(count: number, database: string): void
  /**
   * A batch of a conflict-handling schema waited this long for earlier unfinished batches
   * that share a conflict key (last write wins across batches); called only for batches that
   * waited. Optional, so that reporters written before it keep compiling.
   */
  recordKeyOrderWait?(database: string, table: string, seconds: number): void
  /** Configured executor concurrency limit. */
  setConcurrencyLimit(database: string, limit: number): void
  /** Called once per pipeline so the reporter can read gauges at scrape time. */
  bindGauges(database: string, gauges: PipelineGauges): void
  /**
   * The pipeline that bound `gauges` closed (or moved to another reporter): stop reading them,
   * and let it be collected. Optional, so that reporters written before it keep compiling.
   */
  unbindGauges?(gauges: PipelineGauges): void
}

/** Every method of `MetricsReporter`, for wrappers that pass each call on (guard, forward). */
export const METRICS_REPORTER_METHODS = [
  'recordEnqueueLatency',
  'recordQueueWait',
  'recordFlush',
  'recordAssembleDuration',
  'recordBatch',
  'recordError',
  'recordRejectedSubmit',
  'recordDroppedErrors',
  'recordKeyOrderWait',
  'setConcurrencyLimit',
  'bindGauges',
  'unbindGauges',
] as const satisfies readonly (keyof MetricsReporter)[]
// A method added to MetricsReporter but not listed above fails to compile here.
const everyMethod: Exclude<
  keyof MetricsReporter,
  (typeof METRICS_REPORTER_METHODS)[number]
> extends never
  ? true
  : never = true
void everyMethod

/** The default: every method is empty, so reporting costs a call and nothing else. */
export class NoopMetricsReporter implements MetricsReporter {
  recordEnqueueLatency(_seconds: number, _database: string): void {}
  recordQueueWait(_seconds: number, _database: string): void {}
  recordFlush(_rows: number, _schemaGroups: number, _database: string): void {}
  recordAssembleDuration(_seconds: number, _database: string): void {}
  recordBatch(_m: BatchMetrics): void {}
  recordError(_database: string, _table: string, _errorType: string): void {}
  recordRejectedSubmit(_reason: RejectReason, _database: string): void {}
  recordDroppedErrors(_count: number, _database: string): void {}
  recordKeyOrderWait(_database: string, _table: string, _seconds: number): void {}
  setConcurrencyLimit(_database: string, _limit: number): void {}
  bindGauges(_database: string, _gauges: PipelineGauges): void {}
  unbindGauges(_gauges: PipelineGauges): void {}
}

export const noopMetrics: MetricsReporter = new NoopMetricsReporter()
