/**
 * The plug-in contract. A sink (SQL dialect, Redis, ...) implements `BatchProcessor`: write
 * one batch, once. Everything generic (retries, backoff, timeout, concurrency limit, error
 * classification, metrics) is added around it by `createExecutor()`; the pipeline only sees
 * a `BatchExecutor`.
 */
import type { Classification, ErrorReason } from './classify.js'
import type { BatchFailedError } from './errors.js'
import type { Request } from './request.js'
import type { AnyRow, Schema } from './schema.js'
import type { Value } from './values.js'

/** Rows of one schema, in submit order. */
export interface Batch<Row extends AnyRow = AnyRow> {
  readonly schema: Schema<Row>
  readonly rows: readonly Request<Row>[]
  /**
   * The same rows as one row-major array, `schema.columns.length` values per row, aligned
   * like `Request.values` (`undefined`: not set). Present on batches of plain-object `submit()`
   * and `submitMany()` rows, never turned into one object per row unless something reads `rows`:
   * a processor on a hot path reads these instead (see `batchSize()`). Read-only.
   */
  readonly values?: readonly (Value | undefined)[]
}

export interface ProcessContext {
  /** Fires on timeout or shutdown deadline; a processor should stop and roll back. */
  readonly signal: AbortSignal
  /** 1 for the first attempt. */
  readonly attempt: number
}

/** One row (by index into `batch.rows`) that failed on its own while the others committed. */
export interface RowFailure {
  readonly index: number
  readonly error: unknown
}

export interface ProcessResult {
  /**
   * Rows that failed individually (a Redis command's error, a poison row isolated by
   * bisection). Every row not listed here is committed. Retryable failures are retried
   * alone: rows that committed are never sent again.
   */
  readonly failures?: readonly RowFailure[]
  /**
   * Rows coalesced into another row of the batch that this attempt committed. Rows folded
   * into a row listed in `failures` are not counted (a retry that commits them counts them).
   */
  readonly deduplicated?: number
}

/** A sink: writes one batch. Throwing means nothing of the batch was committed. */
export interface BatchProcessor {
  /** The sink's name, e.g. `postgres`; used as the `database` label. */
  readonly name: string
  process(batch: Batch, ctx: ProcessContext): Promise<ProcessResult | undefined | void>
  /** Sink-specific error classification, consulted after the user's classifiers. */
  classify?(err: unknown): Classification | undefined
  /**
   * Optional, for a processor that holds finished batches back (e.g. SQLite's group commit:
   * several batches share one transaction, committed later). Called when a batch has to wait
   * for unfinished ones (same conflict keys): finish what is held now instead of waiting for
   * more work.
   */
  expedite?(): void
  /** Releases what the processor created (never a pool the user passed in). */
  close?(): Promise<void>
}

/** Rows that reached a final failure, with the reason and the attempts made. */
export interface BatchFailure<Row extends AnyRow = AnyRow> {
  readonly schema: Schema<Row>
  readonly rows: readonly Request<Row>[]
  readonly reason: ErrorReason
  readonly attempts: number
  readonly error: BatchFailedError
}

export interface BatchOutcome {
  /** Rows written (including rows coalesced into a written row). */
  readonly committed: number
  /** Final failures; the union of their rows and the committed ones is the whole batch. */
  readonly failures: readonly BatchFailure[]
  readonly attempts: number
  /**
   * Work the sink still does for this batch after the executor gave up on it (an attempt
   * that ignored its abort, reported `BATCHSQL_OUTCOME_UNKNOWN`): it may still commit. The
   * pipeline keeps the batch's conflict keys held at the key-order gate until it ends, so
   * that no later batch touching them commits first.
   */
  readonly stillRunning?: Promise<unknown>
}

/** What the pipeline calls once per schema group of a flush. Never throws: it reports. */
export interface BatchExecutor {
  readonly name: string
  /** The configured concurrency limit, reported as a metric. */
  readonly concurrency: number
  execute(batch: Batch, signal: AbortSignal): Promise<BatchOutcome>
  /** A batch waits for the ones in flight: see `BatchProcessor.expedite`. */
  expedite?(): void
  /**
   * Optional: how far an unfinished `execute(batch)` has got (rows committed, rows failed for
   * good, the rows still being written). Read at a close deadline, so that a batch given up
   * on reports only its outstanding rows as of unknown outcome, not the ones already settled.
   */
  progress?(batch: Batch): BatchProgress | undefined
  close?(): Promise<void>
}

/** See `BatchExecutor.progress`. */
export interface BatchProgress {
  /** Attempts begun, the one in progress included. */
  readonly attempts: number
  readonly committed: number
  readonly failures: readonly BatchFailure[]
  /** The rows not settled yet (the whole batch before its first attempt ends). */
  readonly pending: Batch
}
