import type { Database, Statement } from 'better-sqlite3'
import { failedBeforeCommit } from './commit-outcome.js'

/**
 * Runs one batch in a transaction of its own, even a lone statement. Neither autocommit nor
 * better-sqlite3's `transaction()` tells a failed COMMIT from a failed INSERT, and an I/O
 * error of the COMMIT leaves the batch in doubt where one before it does not
 * (commit-outcome.ts): errors before the COMMIT leave here marked `failedBeforeCommit`.
 * BEGIN, COMMIT and ROLLBACK are prepared once, as better-sqlite3's `transaction()` does.
 */
export class OwnTransaction {
  private readonly begin: Statement
  private readonly commit: Statement
  private readonly rollback: Statement

  constructor(private readonly db: Database) {
    this.begin = db.prepare('BEGIN')
    this.commit = db.prepare('COMMIT')
    this.rollback = db.prepare('ROLLBACK')
  }

  run(work: () => void): void {
    this.begin.run()
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
