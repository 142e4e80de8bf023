import type { Database, Statement } from 'better-sqlite3'
import { failedBeforeCommit } from './commit-outcome.js'

/**
 * Runs one batch in a transaction of its own, even a lone statement. Neither autocommit nor
 * better-sqlite3's `transaction()` tells a failed COMMIT from a failed INSERT, and an I/O
 * error of the COMMIT leaves the batch in doubt where one before it does not
 * (commit-outcome.ts): errors before the COMMIT leave here marked `failedBeforeCommit`.
 * BEGIN, COMMIT and ROLLBACK are prepared once, as better-sqlite3's `transaction()` does.
 *
 * `BEGIN IMMEDIATE`: the write lock is taken first, waiting up to `busy_timeout` while another
 * connection writes. A deferred BEGIN whose batch reads before it writes (the schema check of
 * insert-or-rollback.ts) holds a read snapshot when it asks for the write lock, and SQLite
 * answers that upgrade with SQLITE_BUSY at once, without its busy handler (waiting could
 * deadlock): a lock held for 1.5 s by another process failed every batch in ~70 ms.
 */
export class OwnTransaction {
  private readonly begin: Statement
  private readonly commit: Statement
  private readonly rollback: Statement

  constructor(private readonly db: Database) {
    this.begin = db.prepare('BEGIN IMMEDIATE')
    this.commit = db.prepare('COMMIT')
    this.rollback = db.prepare('ROLLBACK')
  }

  run(work: () => void): void {
    try {
      this.begin.run()
    } catch (err) {
      throw failedBeforeCommit(err) // busy past busy_timeout, say: nothing begun
    }
    try {
      work()
    } catch (err) {
      this.rollBack()
      throw failedBeforeCommit(err)
    }
    try {
      this.commit.run()
    } catch (err) {
      this.rollBack()
      throw err
    }
  }

  /**
   * After a failed statement or COMMIT (a COMMIT that got SQLITE_BUSY keeps its transaction
   * open; SQLite may have rolled back already). Should the ROLLBACK fail too, the connection
   * stays inside the transaction, and the next batch meets it as one BatchSQL did not open
   * (`ForeignTransactionError`): nothing is acknowledged inside it.
   */
  private rollBack(): void {
    try {
      if (this.db.inTransaction) this.rollback.run()
    } catch {}
  }
}
