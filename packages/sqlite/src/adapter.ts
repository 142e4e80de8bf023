import type { ColumnType, ProcessContext, Value } from '@batchsql/core'
import { type InsertShape, type SqlDialectAdapter, StatementCache } from '@batchsql/kysely'
import type { Database, Statement } from 'better-sqlite3'
import { type CompiledQuery, type Kysely, sql } from 'kysely'
import { classifySqliteError, ForeignTransactionError } from './classify.js'
import { lostInFlightSqlite } from './commit-outcome.js'
import { GroupCommit } from './group-commit.js'
import { InsertOrRollback } from './insert-or-rollback.js'
import { type AttachedDatabase, journalModePragma, refuseJournalModes } from './journal-mode.js'
import { OwnTransaction } from './own-transaction.js'
import { toSqliteValue } from './values.js'

export interface SqliteAdapterOptions {
  /**
   * The bare better-sqlite3 database, when BatchSQL has it (a filename or a `Database` was
   * given): batches then run on cached prepared statements instead of through Kysely.
   */
  database?: Database
  /** Rows per statement; default 500 (measured: see the README). */
  rowsPerStatement?: number
  /**
   * Let up to this many consecutive batches share one commit (`GroupCommit`); 0 or 1: every
   * batch commits alone. Needs `database`.
   */
  groupCommit?: number
}

/** better-sqlite3 13 compiles SQLite with the default SQLITE_MAX_VARIABLE_NUMBER, 32 766. */
export const SQLITE_MAX_PARAMETERS = 32_766

export class SqliteAdapter implements SqlDialectAdapter {
  readonly name = 'sqlite'
  // INSERT OR REPLACE deletes the old row: unset columns take their defaults.
  readonly replaceDeletes = true
  // OR IGNORE also skips NOT NULL and CHECK violations (README, strategies).
  readonly ignoreSkipsInvalidRows = true
  // Decimals are bound as the strings given (toSqliteValue), so a TEXT key keeps spellings apart.
  readonly decimalsAsText = true
  // UNIQUE ON CONFLICT FAIL, RAISE(FAIL): a failed statement keeps its earlier rows. (Batches on
  // a Database always run in a transaction of their own: this is for Kysely targets.)
  readonly statementsKeepRows = true
  readonly maxParameters = SQLITE_MAX_PARAMETERS
  /**
   * Every distinct text is prepared (as costly as running it) and kept: few row counts per
   * shape. Not through a Kysely target, whose driver prepares every statement anew anyway:
   * there, fewer statements are cheaper.
   */
  readonly fewRowCounts: boolean
  readonly rowsPerStatement: number
  private readonly database: Database | undefined
  // Kysely's SQLite driver prepares every statement anew; preparing a 500-row INSERT costs
  // about as much as running it, so prepared statements are kept per SQL text (bounded).
  // Also bounded by their SQL text: a prepared statement's native memory (invisible to V8's
  // heap figures) grows with it, ~2 MB for 500 rows x 30 columns, so 64 wide ones held
  // ~140 MB. 1 M characters keeps ~16 such statements, and all 64 of narrow shapes.
  private readonly prepared = new StatementCache<Statement>(64, 1024 * 1024, (text) => text.length)
  private readonly group: GroupCommit | undefined
  private own: OwnTransaction | undefined
  /** Plain inserts as `OR ROLLBACK` where safe (insert-or-rollback.ts): a `Database`, no group commit. */
  private readonly rollbackInserts: InsertOrRollback | undefined

  constructor(options: SqliteAdapterOptions = {}) {
    this.database = options.database
    this.fewRowCounts = this.database !== undefined
    this.rowsPerStatement = options.rowsPerStatement ?? 500
    const batches = options.groupCommit ?? 0
    if (this.database !== undefined && batches > 1)
      this.group = new GroupCommit(this.database, batches)
    // Not under group commit (a batch's savepoint must roll back alone) nor through a Kysely
    // target (its transaction wrapper would ROLLBACK a transaction SQLite already ended).
    if (this.database !== undefined && this.group === undefined)
      this.rollbackInserts = new InsertOrRollback(this.database)
  }

  /**
   * A Kysely target's database is out of reach when the pipeline is made: its journal mode is
   * checked before the first batch instead (a `Database` given is checked by the factory).
   */
  async init(db: Kysely<any>): Promise<void> {
    if (this.database !== undefined) return
    const list = await sql<AttachedDatabase>`PRAGMA database_list`.execute(db)
    const modes = new Map<string, unknown>()
    for (const { name } of list.rows) {
      const mode = await sql<Record<string, unknown>>`${sql.raw(journalModePragma(name))}`.execute(
        db,
      )
      // The one column by position: a CamelCasePlugin renames `journal_mode` to `journalMode`,
      // and an undefined mode passed as an allowed one (QA, 2026-11-29).
      modes.set(name, Object.values(mode.rows[0] ?? {})[0])
    }
    refuseJournalModes(list.rows, (schema) => modes.get(schema))
  }

  toDriverValue(value: Value, type: ColumnType): unknown {
    return toSqliteValue(value, type)
  }

  // Only a JSON column converts strings and numbers (to their JSON text).
  passesThrough(type: ColumnType): boolean {
    return type !== 'json'
  }

  buildInsert(db: Kysely<any>, shape: InsertShape, rows: readonly Record<string, unknown>[]) {
    const { schema } = shape
    const insert = db.insertInto(schema.table).values(rows as Record<string, unknown>[])
    switch (schema.strategy) {
      case 'insert':
        // The text says OR ROLLBACK; runStatements() takes it out where it is not safe.
        return this.rollbackInserts !== undefined ? insert.orRollback() : insert
      case 'ignore':
        return insert.orIgnore()
      case 'replace':
        return insert.orReplace()
      case 'update':
        // A row that sets no update column: nothing to update on a conflict. Not `OR IGNORE`,
        // which would also skip a NOT NULL or CHECK violation, or a conflict on another
        // unique index, and report the row written.
        if (shape.updateColumns.length === 0)
          return insert.onConflict((oc) => oc.columns(schema.conflictColumns as never).doNothing())
        return insert.onConflict((oc) =>
          oc
            .columns(schema.conflictColumns as never)
            .doUpdateSet(
              Object.fromEntries(shape.updateColumns.map((c) => [c, sql`excluded.${sql.id(c)}`])),
            ),
        )
    }
  }

  classify = classifySqliteError
  lostInFlight = lostInFlightSqlite

  async runStatements(statements: readonly CompiledQuery[], ctx: ProcessContext): Promise<boolean> {
    const database = this.database
    if (database === undefined) return false
    const texts = this.rollbackInserts
    const runAll = () => {
      // Inside the batch's transaction: the schema read is the one its statements run on (a
      // trigger another connection creates after it makes the write fail busy, and retry).
      texts?.checkSchema()
      for (const s of statements)
        this.statement(database, texts === undefined ? s.sql : texts.text(s.sql)).run(
          s.parameters as unknown[],
        )
    }
    if (this.group !== undefined) await this.group.run(runAll, ctx.signal)
    // Not inside a transaction of the application's: see ForeignTransactionError.
    else if (database.inTransaction) throw new ForeignTransactionError()
    else {
      this.own ??= new OwnTransaction(database)
      this.own.run(runAll)
    }
    return true
  }

  /** A batch waits for ones that share the open transaction: commit it now. */
  expedite(): void {
    this.group?.expedite()
  }

  /** Commits batches still waiting for a shared commit (the pipeline has drained by now). */
  async close(): Promise<void> {
    this.group?.flush()
  }

  /** The prepared statement of `text`, from a cache that drops the least recently used. */
  private statement(database: Database, text: string): Statement {
    let stmt = this.prepared.get(text)
    if (stmt === undefined) {
      stmt = database.prepare(text)
      this.prepared.set(text, stmt)
    }
    return stmt
  }
}
