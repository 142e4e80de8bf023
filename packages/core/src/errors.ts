import type { ErrorReason } from './classify.js'
import type { CloseResult } from './pipeline-options.js'

/** The codes of a `ValidationError`: bad input, refused before anything was enqueued. */
export type ValidationErrorCode =
  | 'BATCHSQL_INVALID_SCHEMA'
  | 'BATCHSQL_EMPTY_ROW'
  | 'BATCHSQL_INVALID_ROW'
  | 'BATCHSQL_UNKNOWN_COLUMN'
  | 'BATCHSQL_MISSING_VALUE'
  | 'BATCHSQL_MISSING_SCHEMA'
  | 'BATCHSQL_UNSUPPORTED_VALUE'
  | 'BATCHSQL_TYPE_MISMATCH'

/** The codes of a `BatchFailedError`: failed for good, possibly written, or never sent. */
export type BatchFailedErrorCode =
  | 'BATCHSQL_BATCH_FAILED'
  | 'BATCHSQL_OUTCOME_UNKNOWN'
  | 'BATCHSQL_ABANDONED'

/**
 * Stable, machine-readable error codes. Messages give counts and names, never row values:
 * rows may hold personal data and error messages end up in logs.
 */
export type BatchSQLErrorCode =
  | ValidationErrorCode
  | BatchFailedErrorCode
  | 'BATCHSQL_INVALID_CONFIG'
  | 'BATCHSQL_CLOSED'
  | 'BATCHSQL_ABORTED'
  | 'BATCHSQL_TIMEOUT'
  | 'BATCHSQL_CLOSE_FAILED'
  | 'BATCHSQL_CONNECTION_LOST'
  | 'BATCHSQL_FOREIGN_TRANSACTION'

/**
 * The one error base class: every error BatchSQL raises or reports is one of these. Each
 * subclass narrows `code` to the codes it carries, so `instanceof` then `switch (err.code)`
 * type-checks.
 */
export class BatchSQLError extends Error {
  readonly code: BatchSQLErrorCode
  // Declared here too: a project compiled with a lib before ES2022 has no `Error.cause`.
  declare readonly cause?: unknown
  constructor(code: BatchSQLErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
    this.code = code
    // The stack formatted now, not when first read: until then V8 keeps each frame's function
    // and receiver, so a failure reported for one row kept its whole batch (the executor's
    // closures) alive for as long as the caller kept the error (about 90 KB a 500-row batch).
    void this.stack
  }
}

/** Bad input detected at `submit()` or when a schema is defined; nothing was enqueued. */
export class ValidationError extends BatchSQLError {
  declare readonly code: ValidationErrorCode
  /** The table concerned, when known. */
  readonly table: string | undefined
  /** The column concerned, when known. Column names are schema metadata, not row data. */
  readonly column: string | undefined
  /** For `submitMany()`: the index of the bad row in the rows given. */
  readonly row: number | undefined
  constructor(
    code: ValidationErrorCode,
    message: string,
    details: { table?: string; column?: string; row?: number; cause?: unknown } = {},
  ) {
    super(code, message, { cause: details.cause })
    this.table = details.table
    this.column = details.column
    this.row = details.row
  }
}

/** `submit()` after `close()` began, or a waiting submit when the pipeline closed. */
export class ClosedError extends BatchSQLError {
  declare readonly code: 'BATCHSQL_CLOSED'
  /**
   * For `submitMany()`: how many leading rows had been accepted (they are written or reported
   * as usual); the rows after them were not. 0 for `submit()`.
   */
  readonly acceptedRows: number
  constructor(
    message = 'BatchSQL is closing or closed; the row was not accepted',
    acceptedRows = 0,
  ) {
    super('BATCHSQL_CLOSED', message)
    this.acceptedRows = acceptedRows
  }
}

/** An AbortSignal fired before the operation completed. */
export class AbortedError extends BatchSQLError {
  declare readonly code: 'BATCHSQL_ABORTED'
  /** For `submitMany()`: leading rows accepted before the abort (see `ClosedError`). */
  readonly acceptedRows: number
  constructor(message: string, cause?: unknown, acceptedRows = 0) {
    super('BATCHSQL_ABORTED', message, { cause })
    this.acceptedRows = acceptedRows
  }
}

/**
 * `close()` settled every row but could not release the sink (e.g. ending a pool it owns
 * failed). `result` is what `close()` would have returned; `cause` the sink's error.
 */
export class CloseFailedError extends BatchSQLError {
  declare readonly code: 'BATCHSQL_CLOSE_FAILED'
  readonly result: CloseResult
  constructor(result: CloseResult, cause: unknown) {
    super(
      'BATCHSQL_CLOSE_FAILED',
      'every row was settled, but closing the sink failed; see cause and result',
      { cause },
    )
    this.result = result
  }
}

/** A batch attempt ran longer than the executor's `timeoutMs`. */
export class TimeoutError extends BatchSQLError {
  declare readonly code: 'BATCHSQL_TIMEOUT'
  /** `cause`: what the aborted attempt failed with once it stopped, when it did. */
  constructor(ms: number, cause?: unknown) {
    super('BATCHSQL_TIMEOUT', `batch attempt exceeded its timeout of ${ms} ms`, { cause })
  }
}

const inDoubt = new WeakSet<object>()

/**
 * Marks a retryable error as raised when the attempt may have committed (the connection went
 * away while the committing statement was in flight, say). The attempt is still retried when
 * retrying is harmless (an upsert rewrites the same values), but if the batch then fails for
 * good its rows are reported `BATCHSQL_OUTCOME_UNKNOWN`, not `BATCHSQL_BATCH_FAILED`: an
 * earlier attempt may have written them. Returns `err`; no-op for a non-object.
 */
export function markInDoubt<E>(err: E): E {
  if (typeof err === 'object' && err !== null) inDoubt.add(err)
  return err
}

/** Whether `err` was marked by `markInDoubt()`. */
export function isInDoubt(err: unknown): boolean {
  return typeof err === 'object' && err !== null && inDoubt.has(err)
}

/**
 * The final failure of (part of) a batch, as delivered to acknowledged submits and the error
 * stream. `cause` is the last underlying driver error.
 */
export class BatchFailedError extends BatchSQLError {
  declare readonly code: BatchFailedErrorCode
  readonly table: string
  readonly reason: ErrorReason
  readonly attempts: number
  readonly rowCount: number
  constructor(
    table: string,
    reason: ErrorReason,
    attempts: number,
    rowCount: number,
    cause: unknown,
    code: BatchFailedErrorCode = 'BATCHSQL_BATCH_FAILED',
  ) {
    super(
      code,
      `${rowCount} row(s) for table "${table}" failed after ${attempts} attempt(s): ${reason}`,
      { cause },
    )
    this.table = table
    this.reason = reason
    this.attempts = attempts
    this.rowCount = rowCount
  }

  /**
   * Rows that may have been written: what wrote them went on (or its reply was lost) after
   * BatchSQL stopped waiting. Final, never retried, so never written twice.
   */
  static outcomeUnknown(
    table: string,
    reason: ErrorReason,
    attempts: number,
    rowCount: number,
    cause: unknown,
  ): BatchFailedError {
    // `this`, not the class's own name: a class that names itself in its body is renamed by
    // the bundler (published as `_BatchFailedError`, in `err.name` and every stack trace).
    return new this(table, reason, attempts, rowCount, cause, 'BATCHSQL_OUTCOME_UNKNOWN')
  }
}

/** An `AbortedError` of BatchSQL's, or a platform abort (`AbortError`, code `ABORT_ERR`). */
export function isAbortError(err: unknown): boolean {
  return (
    err instanceof AbortedError ||
    (typeof err === 'object' &&
      err !== null &&
      ((err as { name?: unknown }).name === 'AbortError' ||
        (err as { code?: unknown }).code === 'ABORT_ERR'))
  )
}
