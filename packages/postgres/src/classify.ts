import type { Classification } from '@batchsql/core'

// What pg throws, without a code, when the connection under a query or a checked-out client
// goes away (server restart, pg_terminate_backend, network), or when a Pool with
// `connectionTimeoutMillis` found no free connection in time (nothing was sent).
const LOST_CONNECTION =
  /^(Connection terminated|Client has encountered a connection error|Client was closed and is not queryable|Connection terminated unexpectedly|timeout exceeded when trying to connect)/

// Socket errors under a statement that was sent: the server may have run it. Not EPIPE: the
// write itself failed, so the statement never reached the server whole (nothing ran).
const IN_FLIGHT_SOCKET_CODES = new Set(['ECONNRESET', 'ETIMEDOUT'])

/**
 * Whether `err` means the connection went away while a statement was in flight (its reply
 * never came), rather than before it was sent ("Client has encountered a connection error
 * and is not queryable") or with the server's own error reply (a SQLSTATE: the statement
 * failed, for certain).
 */
export function lostInFlightPostgres(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown; syscall?: unknown } | null
  // A reset on writing: the server closed without reading all of the statement (it closes
  // with unread input only then, by a reset), so it never ran it. Like EPIPE.
  if (e?.syscall === 'write') return false
  if (typeof e?.code === 'string') return IN_FLIGHT_SOCKET_CODES.has(e.code)
  return (
    typeof e?.message === 'string' && e.message.startsWith('Connection terminated unexpectedly')
  )
}

/**
 * Errors outside classes 22/23 that one row's values cause, so the engine isolates that row
 * instead of failing the batch: a trigger's `RAISE EXCEPTION` (P0001, the default SQLSTATE of
 * a validation trigger), a value too large for an index entry (54000), and "ON CONFLICT DO
 * UPDATE command cannot affect row a second time" (21000: two rows whose keys BatchSQL tells
 * apart but the column stores as equal, `1.001` and `1.002` in a NUMERIC(10,2), or one day's
 * Dates in a `date` key; split apart, each statement succeeds and the row sorted last wins).
 */
// 428C9: a value for a GENERATED ALWAYS (identity or generated) column, which only the rows
// that set it carry: isolated, the rows that leave it to DEFAULT commit.
const ROW_SPECIFIC = new Set(['P0001', '54000', '21000', '428C9'])
const SESSION_ENDED = new Set(['57P01', '57P02', '57P03', '25P03', '25P04', '57P05'])
// Errors that are about a row when their message says so (the rest of class 42, a privilege
// denied included, is about the statement): a row a row-level security policy's WITH CHECK
// refuses; COPY's refusal of a generated column the rows set (INSERT's is 428C9).
const ROW_SPECIFIC_WHEN: Readonly<Record<string, string>> = {
  '42501': 'row-level security',
  '42P10': 'generated column',
  // An internal error, but this one is a value too large to work on (a jsonb document of
  // ~200 MB needs over 1 GiB): isolated, the other rows commit (QA; was non_retryable, whole batch).
  XX000: 'invalid memory alloc request size',
}

/**
 * PostgreSQL errors by SQLSTATE (`err.code`, five characters). Deadlocks, serialization
 * failures, lock timeouts, cancelled statements, lost connections and resource shortages are
 * worth retrying; integrity and data errors are about the rows (the engine isolates them);
 * class 42 is a mistake in the statement or schema. Socket errors without a SQLSTATE are left
 * to core's built-in classifier; pg's own lost-connection errors (no code) are `connection`.
 */
export function classifyPostgresError(err: unknown): Classification | undefined {
  const message = (err as { message?: unknown } | null)?.message
  if (
    (err as { code?: unknown } | null)?.code === undefined &&
    typeof message === 'string' &&
    LOST_CONNECTION.test(message)
  ) {
    return { reason: 'connection', retryable: true }
  }
  // A server error (pg's DatabaseError) carries a severity; `EPIPE` is five letters too.
  const e = err as { code?: unknown; severity?: unknown } | null
  const code = e?.code
  if (typeof code !== 'string' || e?.severity === undefined || !/^[0-9A-Z]{5}$/.test(code))
    return undefined
  if (code === '40P01' || code === '40001') return { reason: 'deadlock', retryable: true }
  if (code === '55P03') return { reason: 'lock_timeout', retryable: true }
  if (code === '57014') return { reason: 'timeout', retryable: true }
  // A session the server ended: class 08, shutdown, crash, cannot connect now, and its own
  // timeouts for a session idle inside a transaction (25P03), a transaction too long (25P04,
  // PostgreSQL 17) or an idle session (57P05): each rolled back what was not committed.
  if (code.startsWith('08') || SESSION_ENDED.has(code)) {
    return { reason: 'connection', retryable: true }
  }
  if (code.startsWith('53')) return { reason: 'io', retryable: true }
  if (code === '23505') return { reason: 'duplicate_key', retryable: false }
  if (code.startsWith('23') || code.startsWith('22') || ROW_SPECIFIC.has(code))
    return { reason: 'data', retryable: false }
  const when = ROW_SPECIFIC_WHEN[code]
  if (when !== undefined && typeof message === 'string' && message.includes(when))
    return { reason: 'data', retryable: false }
  if (code.startsWith('42')) return { reason: 'syntax', retryable: false }
  return { reason: 'non_retryable', retryable: false }
}
