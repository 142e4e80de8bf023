import { BatchSQLError } from '@batchsql/core'
import type { Database } from 'better-sqlite3'
import { ForeignTransactionError, isBusy } from './classify.js'
import { failedBeforeCommit, isIoError } from './commit-outcome.js'
import { OwnTransaction } from './own-transaction.js'

/** One batch's writes: runs its statements, and can run them again (see `fallBack`). */
type Work = () => void

interface Member {
  readonly work: Work
  readonly resolve: () => void
  readonly reject: (err: unknown) => void
  readonly signal: AbortSignal
  readonly onAbort: () => void
}

interface Group {
  readonly members: Member[]
}

/**
 * Group commit: consecutive batches share one transaction, each in a savepoint of its own,
 * and each batch's promise settles when that transaction commits. Why: on a file a commit per
 * flush is a large part of a batch's cost (measured in the README), and a service under load
 * has the next batch ready before the last one's commit. No batch waits for work that has not
 * arrived: the transaction commits as soon as the process gets back to its event loop
 * (`setImmediate`), or once it holds `maxBatches` batches (the executor's concurrency: no
 * further batch can arrive while every slot waits for this commit), or when a waiting batch is
 * aborted (a timeout), or on `flush()` (`close()`).
 *
 * A batch is acknowledged only by its own outcome: if the shared transaction fails as a whole
 * (its COMMIT fails, e.g. a deferred foreign key; or SQLite rolls it back from inside a later
 * batch), every batch that was waiting on it runs again alone, in a transaction of its own, and
 * settles with that result, so one batch's bad data never fails the others.
 */
export class GroupCommit {
  private open: Group | undefined
  private idleCommitScheduled = false
  /**
   * `expedite()` came with nothing open: the batch waited for has not run yet (it is queued
   * behind the caller's microtasks), so the transaction it opens commits right after it.
   */
  private hurried = false
  /**
   * A COMMIT failed and so did its ROLLBACK: the connection is still inside our transaction.
   * Until a ROLLBACK succeeds, a batch must not take that for a transaction of the caller's
   * (it would run inside it and be acknowledged without ever committing).
   */
  private stuck = false
  /** Numbers the shared transactions; the open one's is written in the marker table. */
  private epoch = 0
  /** For batches that run again alone. */
  private own: OwnTransaction | undefined

  constructor(
    private readonly db: Database,
    private readonly maxBatches: number,
  ) {}

  /**
   * Runs `work` (one batch) in the shared transaction; resolves once that is committed, rejects
   * with the batch's own error if it failed.
   */
  run(work: Work, signal: AbortSignal): Promise<void> {
    let group: Group
    try {
      group = this.join(work)
    } catch (err) {
      // Before any COMMIT of this batch's: nothing of it was stored (commit-outcome.ts).
      throw failedBeforeCommit(err)
    }
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => this.commit(group)
      group.members.push({ work, resolve, reject, signal, onAbort })
      signal.addEventListener('abort', onAbort, { once: true })
      if (this.hurried || group.members.length >= this.maxBatches) this.commit(group)
    })
  }

  /** Runs `work` in the shared transaction (opened if none is), in a savepoint of its own. */
  private join(work: Work): Group {
    const { db } = this
    if (this.stuck) {
      if (db.inTransaction) db.exec('ROLLBACK') // throws, failing this batch, while it cannot
      this.stuck = false
    }
    if (this.open !== undefined && !this.stillOpen()) this.endedOutside(this.open)
    if (this.open === undefined) {
      // A transaction of the caller's on this connection is not ours to commit, nor to run in:
      // the batch would be acknowledged before it commits, or though it never does.
      if (db.inTransaction) throw new ForeignTransactionError()
      // IMMEDIATE: the write lock now (waiting up to busy_timeout), so a transaction that
      // other batches join can never fail later with SQLITE_BUSY_SNAPSHOT.
      db.exec('BEGIN IMMEDIATE')
      try {
        this.mark()
      } catch (err) {
        // Not left open: the next batch would take it for a transaction of the caller's.
        db.exec('ROLLBACK')
        throw err
      }
      this.open = { members: [] }
      // One pending callback, not one per transaction: a producer that never yields to the
      // event loop (rows accepted as fast as they commit) would pile them up, each holding its
      // batches' rows.
      if (!this.idleCommitScheduled) {
        this.idleCommitScheduled = true
        setImmediate(() => {
          this.idleCommitScheduled = false
          this.flush()
        })
      }
    }
    const group = this.open
    try {
      // Inside a transaction, better-sqlite3 runs this in a savepoint: a failing batch rolls
      // back alone and the batches before it stay.
      db.transaction(work)()
    } catch (err) {
      // Some errors (a trigger's RAISE(ROLLBACK), SQLITE_FULL, I/O) end the whole transaction:
      // the batches before this one were rolled back with it.
      if (!db.inTransaction) this.fallBack(group)
      throw err
    }
    return group
  }

  /** Commits the open transaction now (when idle, and on `close()`). */
  flush(): void {
    if (this.open !== undefined) this.commit(this.open)
  }

  /** A batch waits for batches in flight: commit what is open, or else the next to run. */
  expedite(): void {
    if (this.open === undefined) this.hurried = true
    else this.flush()
  }

  private commit(group: Group): void {
    if (this.open !== group) return
    this.hurried = false
    if (!this.stillOpen()) {
      this.endedOutside(group)
      return
    }
    this.open = undefined
    try {
      this.db.exec('COMMIT')
    } catch (err) {
      // This runs from setImmediate and abort listeners: nothing may throw out of it.
      try {
        if (this.db.inTransaction) this.db.exec('ROLLBACK')
      } catch {}
      // Each batch fails with the COMMIT's error instead of running again alone when:
      // - the transaction would not roll back: a rerun inside it would acknowledge rows that
      //   never commit;
      // - it is an I/O error: the COMMIT may have reached the file (commit-outcome.ts), and a
      //   rerun could write the batches twice; the engine retries each only where a second run
      //   can only rewrite the same rows, else reports it of unknown outcome;
      // - it is busy: another connection's lock (a reader, in a rollback-journal mode)
      //   outlasted busy_timeout, nothing was written, and a rerun at once would only wait for
      //   the same lock again, batch after batch, with the event loop stopped ((batches + 1) x
      //   busy_timeout, QA: 45 s); retried after a backoff instead.
      const stuck = this.db.inTransaction
      if (stuck) this.stuck = true
      if (stuck || isIoError(err) || isBusy(err)) for (const m of group.members) this.settle(m, err)
      else this.rerun(group)
      return
    }
    for (const m of group.members) this.settle(m)
  }

  /**
   * Writes this transaction's number in a one-row temporary table, inside the transaction: a
   * ROLLBACK of yours takes it back with everything else, a BEGIN of yours after it finds it
   * gone. (`inTransaction` alone cannot tell BatchSQL's transaction from one begun after it.)
   */
  private mark(): void {
    this.epoch++
    this.db.exec(
      `CREATE TEMP TABLE IF NOT EXISTS batchsql_group_commit (epoch INTEGER NOT NULL); DELETE FROM temp.batchsql_group_commit; INSERT INTO temp.batchsql_group_commit VALUES (${this.epoch})`,
    )
  }

  /** Whether the connection is still inside the shared transaction BatchSQL opened. */
  private stillOpen(): boolean {
    if (!this.db.inTransaction) return false
    try {
      const row = this.db.prepare('SELECT epoch FROM temp.batchsql_group_commit').get() as
        | { epoch: number }
        | undefined
      return row?.epoch === this.epoch
    } catch {
      return false // the table itself was rolled back (created in this transaction)
    }
  }

  /** The shared transaction is gone (rolled back): its batches run again, each alone. */
  private fallBack(group: Group): void {
    if (this.open === group) this.open = undefined
    this.rerun(group)
  }

  private rerun(group: Group): void {
    this.own ??= new OwnTransaction(this.db)
    for (const m of group.members) {
      try {
        this.own.run(m.work)
      } catch (err) {
        this.settle(m, err)
        continue
      }
      this.settle(m)
    }
  }

  /**
   * Someone ran COMMIT or ROLLBACK on this connection while batches waited for the shared
   * transaction (and maybe BEGIN after it): whether they were written is unknown (a COMMIT wrote them, a ROLLBACK did not),
   * so they are reported as such (final: never sent again).
   */
  private endedOutside(group: Group): void {
    this.open = undefined
    const err = new BatchSQLError(
      'BATCHSQL_OUTCOME_UNKNOWN',
      `the transaction shared by ${group.members.length} batches was ended outside BatchSQL; their outcome is unknown`,
    )
    for (const m of group.members) this.settle(m, err)
  }

  private settle(m: Member, err?: unknown): void {
    m.signal.removeEventListener('abort', m.onAbort)
    if (err === undefined) m.resolve()
    else m.reject(err)
  }
}
