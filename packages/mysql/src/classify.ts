import type { Classification } from '@batchsql/core'

const RETRYABLE: Record<number, Classification> = {
  1213: { reason: 'deadlock', retryable: true }, // ER_LOCK_DEADLOCK
  1205: { reason: 'lock_timeout', retryable: true }, // ER_LOCK_WAIT_TIMEOUT
  2006: { reason: 'connection', retryable: true }, // server has gone away
  2013: { reason: 'connection', retryable: true }, // lost connection during query
  1040: { reason: 'connection', retryable: true }, // too many connections
  1053: { reason: 'connection', retryable: true }, // server shutdown in progress
  1927: { reason: 'connection', retryable: true }, // connection killed (MariaDB)
  3024: { reason: 'timeout', retryable: true }, // max_execution_time exceeded (MySQL)
  1969: { reason: 'timeout', retryable: true }, // max_statement_time exceeded (MariaDB)
}
// Errors about the rows themselves: the engine isolates the rows that cause them.
const DATA = new Set([1048, 1364, 1366, 1406, 1264, 1265, 1292, 1451, 1452, 3140, 4025, 1690, 1367])
const SYNTAX = new Set([1064, 1146, 1054, 1049, 1142, 1143])

// Client-side: the socket closed, or CR_SERVER_LOST (2013), under a statement already sent.
// Not EPIPE: the write itself failed, so the statement never reached the server whole.
const IN_FLIGHT_CODES = new Set(['PROTOCOL_CONNECTION_LOST', 'ECONNRESET', 'ETIMEDOUT'])

/**
 * Whether `err` means the connection went away while a statement was in flight (its reply
 * never came), rather than with the server's own error reply (the statement failed, for
 * certain) or before it was sent.
 */
export function lostInFlightMysql(err: unknown): boolean {
  const e = err as { code?: unknown; errno?: unknown } | null
  return e?.errno === 2013 || (typeof e?.code === 'string' && IN_FLIGHT_CODES.has(e.code))
}

/**
 * MySQL / MariaDB server errors by error number (`errno`, with `sqlState`). Client-side
 * socket errors (ECONNRESET, PROTOCOL_CONNECTION_LOST) are left to core's built-in classifier.
 */
export function classifyMysqlError(err: unknown): Classification | undefined {
  const e = err as { errno?: unknown; sqlState?: unknown } | null
  const errno = e?.errno
  if (typeof errno !== 'number' || typeof e?.sqlState !== 'string') return undefined
  const known = RETRYABLE[errno]
  if (known) return known
  if (errno === 1062) return { reason: 'duplicate_key', retryable: false }
  if (DATA.has(errno) || e.sqlState.startsWith('22') || e.sqlState.startsWith('23'))
    return { reason: 'data', retryable: false }
  if (SYNTAX.has(errno) || e.sqlState.startsWith('42'))
    return { reason: 'syntax', retryable: false }
  if (e.sqlState.startsWith('08')) return { reason: 'connection', retryable: true }
  return { reason: 'non_retryable', retryable: false }
}
