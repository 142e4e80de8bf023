/**
 * Which SQLite errors leave a batch's commit in doubt. A COMMIT writes the transaction's pages
 * (WAL frames, or the database file behind a journal) and then syncs them: an I/O error there
 * (`SQLITE_IOERR_FSYNC` from a failing disk, say) can come after the commit record reached the
 * file, and the next open replays it: rows reported failed would be in the table. So an I/O
 * error from the statement that commits counts as lost in flight (`SqlDialectAdapter.lostInFlight`):
 * a batch a retry can only rewrite is retried and, if the retries run out, reported
 * `BATCHSQL_OUTCOME_UNKNOWN`; any other batch is reported so at once (a retry could write it twice).
 *
 * An I/O error from a statement before the COMMIT leaves nothing: SQLite never makes the pages
 * of an uncommitted transaction durable (WAL frames without a commit record are ignored, a
 * journal rolls back). Such errors are marked here (`failedBeforeCommit`) and retried as before.
 * One the adapter cannot place (a lone autocommit statement run through a Kysely target, which
 * includes its own commit) counts as in doubt.
 */
const beforeCommit = new WeakSet<object>()

/** `err` was thrown before the transaction's COMMIT ran: nothing of it was stored. */
export function failedBeforeCommit<E>(err: E): E {
  if (typeof err === 'object' && err !== null) beforeCommit.add(err)
  return err
}

/** An I/O error (`SQLITE_IOERR` and its extended codes). */
export function isIoError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' && code.startsWith('SQLITE_IOERR')
}

/** The adapter's `lostInFlight`: an I/O error not known to come from before the COMMIT. */
export function lostInFlightSqlite(err: unknown): boolean {
  return isIoError(err) && !beforeCommit.has(err as object)
}
