import { BatchSQLError, type Classification } from '@batchsql/core'

/**
 * The connection is inside a transaction BatchSQL did not open (a `BEGIN` of the application's
 * on the same `Database`). A batch run there would be acknowledged at once, yet commit only
 * with that transaction, or never if it rolls back: it waits instead (retried, as a lock held
 * elsewhere is), and fails if the transaction outlasts its retries. Nothing was written.
 */
export class ForeignTransactionError extends BatchSQLError {
  declare readonly code: 'BATCHSQL_FOREIGN_TRANSACTION'
  constructor() {
    super(
      'BATCHSQL_FOREIGN_TRANSACTION',
      'the SQLite connection is inside a transaction BatchSQL did not open; the batch waits for it to end',
    )
  }
}

/**
 * SQLITE_ERROR messages about rows, not the statement: a value SQLite's json1 or integer
 * arithmetic cannot take, and a row that sets a generated column (the rows that do not are
 * written by statements of their own: PostgreSQL's 428C9, a `data` error there too).
 */
const VALUE_ERRORS =
  /^(malformed JSON|integer overflow|JSON cannot hold BLOB values|cannot (INSERT into|UPDATE) generated column)/

/** SQLITE_BUSY or SQLITE_LOCKED (and their extended codes): another connection holds the lock. */
export function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code
  return (
    typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'))
  )
}

/**
 * better-sqlite3 errors carry SQLite's extended result code as `code` (SQLITE_BUSY_SNAPSHOT,
 * SQLITE_CONSTRAINT_UNIQUE, ...). Busy and locked mean another connection holds the lock:
 * retryable. Constraint, type and size errors are about the data: retrying cannot help.
 */
export function classifySqliteError(err: unknown): Classification | undefined {
  if (err instanceof ForeignTransactionError) return { reason: 'lock_timeout', retryable: true }
  // A database BatchSQL refuses to write through (journal-mode.ts): no retry changes that.
  if (err instanceof BatchSQLError && err.code === 'BATCHSQL_INVALID_CONFIG')
    return { reason: 'non_retryable', retryable: false }
  // better-sqlite3's own refusal, before SQLite sees the statement, of one value of 2^29 bytes
  // or more (a Buffer, or a string's UTF-8), below SQLITE_MAX_LENGTH (1e9): the row's fault,
  // isolated like SQLITE_TOOBIG (was unclassified: the whole batch failed).
  if (err instanceof RangeError && err.message.startsWith('The bound string, buffer, or bigint'))
    return { reason: 'data', retryable: false }
  const code = (err as { code?: unknown } | null)?.code
  if (typeof code !== 'string' || !code.startsWith('SQLITE_')) return undefined
  if (isBusy(err)) return { reason: 'lock_timeout', retryable: true }
  if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
    return { reason: 'duplicate_key', retryable: false }
  }
  if (
    code.startsWith('SQLITE_CONSTRAINT') ||
    code === 'SQLITE_MISMATCH' ||
    code === 'SQLITE_TOOBIG' ||
    code === 'SQLITE_RANGE'
  ) {
    return { reason: 'data', retryable: false }
  }
  // SQLITE_FULL (disk full) as core's ENOSPC and the servers' disk-full errors: retried.
  if (code.startsWith('SQLITE_IOERR') || code === 'SQLITE_PROTOCOL' || code === 'SQLITE_FULL')
    return { reason: 'io', retryable: true }
  if (code === 'SQLITE_ERROR') {
    // Plain SQLITE_ERROR also comes from a value: an expression index, generated column or
    // trigger evaluating json()/json_extract() or abs() on one row. That is the row's fault
    // (isolated like a constraint violation), not the statement's.
    const message = String((err as { message?: unknown }).message)
    if (VALUE_ERRORS.test(message)) return { reason: 'data', retryable: false }
    // The engine's BEGIN through a Kysely target while a transaction of yours is open on that
    // connection: as ForeignTransactionError on a Database, wait for it and retry.
    if (message.startsWith('cannot start a transaction within a transaction'))
      return { reason: 'lock_timeout', retryable: true }
    return { reason: 'syntax', retryable: false }
  }
  return { reason: 'non_retryable', retryable: false }
}
