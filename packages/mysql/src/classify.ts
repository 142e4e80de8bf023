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
  // KILL QUERY from another session (an operator, pt-kill): on InnoDB the statement was rolled
  // back and the server said so, like PostgreSQL's 57014 (pg_cancel_backend), also retried.
  // (A non-transactional engine, MyISAM or Aria, keeps what a failed statement wrote before
  // it failed, whatever the error: no batch of BatchSQL's is atomic there; see the README.)
  1317: { reason: 'timeout', retryable: true }, // ER_QUERY_INTERRUPTED
  // A full disk or tablespace, as core's ENOSPC and PostgreSQL's 53100: retried with backoff
  // (space an operator or a purge frees lets the batch through), reported if it outlasts them.
  1021: { reason: 'io', retryable: true }, // ER_DISK_FULL
  1114: { reason: 'io', retryable: true }, // ER_RECORD_FILE_FULL (the table is full)
}
// Errors about the rows themselves: the engine isolates the rows that cause them. Checked
// before the SQLSTATE classes, as some carry a misleading one: 1153 (a statement larger than
// max_allowed_packet, i.e. one row too large, as the engine cuts statements under it) is
// SQLSTATE 08S01 like a lost connection, which a retry cannot fix; 1643/1644 (a trigger's or
// procedure's SIGNAL: 45000 or HY000), 1364, 1300 and 3819 (MySQL's CHECK) are HY000.
const DATA = new Set([
  1048, 1364, 1366, 1406, 1264, 1265, 1292, 1451, 1452, 3140, 4025, 1690, 1367, 1153, 1643, 1644,
  3819, 1300,
  // A value for a generated column (MariaDB 1906, MySQL 3105): only the rows that set it.
  1906, 3105,
])
// 1586: the duplicate-entry message naming the key (MySQL); 1062 elsewhere.
const DUPLICATE = new Set([1062, 1586])
const SYNTAX = new Set([1064, 1146, 1054, 1049, 1142, 1143])

// Client-side: the socket closed, or CR_SERVER_LOST (2013), under a statement already sent.
// Not EPIPE: the write itself failed, so the statement never reached the server whole.
const IN_FLIGHT_CODES = new Set(['PROTOCOL_CONNECTION_LOST', 'ECONNRESET', 'ETIMEDOUT'])

const redacted = new WeakSet<object>()

/**
 * The part of an INSERT / REPLACE statement before its values (`insert into t (a, b) values`),
 * or undefined when `sql` is no such statement or holds a string literal before them.
 * Backtick-quoted identifiers are skipped, so a column named `values` does not end it early.
 */
function statementHead(sql: string): string | undefined {
  if (!/^\s*(?:insert|replace)\b/i.test(sql)) return undefined
  for (let i = 0; i < sql.length; i++) {
    const ch = sql.charCodeAt(i)
    if (ch === 0x60 /* ` */) {
      const end = sql.indexOf('`', i + 1)
      if (end < 0) return undefined
      i = end
    } else if (ch === 0x27 /* ' */ || ch === 0x22 /* " */ || ch === 0x23 /* # */) {
      return undefined
    } else if (
      (ch === 0x76 || ch === 0x56) /* v V */ &&
      /^values\b/i.test(sql.slice(i, i + 7)) &&
      /[\s)]/.test(sql[i - 1] ?? '')
    ) {
      return `${sql.slice(0, i)}values /* redacted */`
    }
  }
  return undefined
}

/**
 * Removes row values from a mysql2 error: its `sql` is the statement as sent, every value of
 * every row inlined (mysql2 formats statements on the client), and error messages must give
 * counts, never row values. `sql` becomes `text` (the statement with `?` placeholders, when
 * known), else the statement up to its values followed by a `redacted` comment, else it is
 * deleted. `code`, `errno`, `sqlState`, `sqlMessage` are kept; the server's own message
 * can still quote a value (`Duplicate entry 'x' for key …`). Idempotent.
 */
export function redactMysqlError(err: unknown, text?: string): void {
  if (typeof err !== 'object' || err === null || redacted.has(err)) return
  const e = err as { sql?: unknown }
  if (typeof e.sql === 'string') {
    const safe = text ?? statementHead(e.sql)
    if (safe === undefined) delete e.sql
    else e.sql = safe
  }
  redacted.add(err)
}

/**
 * Whether `err` means the connection went away while a statement was in flight (its reply
 * never came), rather than with the server's own error reply (the statement failed, for
 * certain) or before it was sent. Redacts `err.sql` (see `redactMysqlError`).
 */
export function lostInFlightMysql(err: unknown): boolean {
  redactMysqlError(err)
  const e = err as { code?: unknown; errno?: unknown } | null
  return e?.errno === 2013 || (typeof e?.code === 'string' && IN_FLIGHT_CODES.has(e.code))
}

/**
 * MySQL / MariaDB server errors by error number (`errno`, with `sqlState`). Client-side
 * socket errors (ECONNRESET, PROTOCOL_CONNECTION_LOST) are left to core's built-in classifier.
 * A session BatchSQL refuses to write through (`BATCHSQL_INVALID_CONFIG`, e.g. sql_mode
 * NO_BACKSLASH_ESCAPES) is `non_retryable`; a statement undone because it landed in a
 * transaction BatchSQL did not open (`BATCHSQL_FOREIGN_TRANSACTION`) is retried. Redacts `err.sql` (see `redactMysqlError`).
 */
export function classifyMysqlError(err: unknown): Classification | undefined {
  redactMysqlError(err)
  const e = err as { errno?: unknown; sqlState?: unknown; code?: unknown } | null
  if (e instanceof Error && e.code === 'BATCHSQL_INVALID_CONFIG')
    return { reason: 'non_retryable', retryable: false }
  // Rolled back by closing the connection (session.ts): certain, so not a lost statement.
  if (e instanceof Error && e.code === 'BATCHSQL_FOREIGN_TRANSACTION')
    return { reason: 'lock_timeout', retryable: true }
  // mysql2 refuses a statement on a connection it already knows is closed: nothing was sent.
  if (
    e instanceof Error &&
    e.message.startsWith("Can't add new command when connection is in closed state")
  )
    return { reason: 'connection', retryable: true }
  const errno = e?.errno
  if (typeof errno !== 'number' || typeof e?.sqlState !== 'string') return undefined
  const known = RETRYABLE[errno]
  if (known) return known
  if (DUPLICATE.has(errno)) return { reason: 'duplicate_key', retryable: false }
  if (DATA.has(errno) || e.sqlState.startsWith('22') || e.sqlState.startsWith('23'))
    return { reason: 'data', retryable: false }
  if (SYNTAX.has(errno) || e.sqlState.startsWith('42'))
    return { reason: 'syntax', retryable: false }
  if (e.sqlState.startsWith('08')) return { reason: 'connection', retryable: true }
  return { reason: 'non_retryable', retryable: false }
}
