/**
 * The dialect contract: everything a SQL dialect contributes to the shared engine. The
 * engine (`processor.ts`) does the rest: coalescing in-batch duplicates, ordering rows by
 * conflict key, chunking under the parameter / statement-size limits, one transaction per
 * batch, poison-row isolation, preview. A new dialect is this interface plus a factory.
 */
import type { Classification, ColumnType, ProcessContext, Schema, Value } from '@batchsql/core'
import type { Compilable, CompiledQuery, Kysely } from 'kysely'

/** The statement shape of one group of rows: which columns it writes, under which schema. */
export interface InsertShape {
  readonly schema: Schema
  /** Columns the rows of this group set, in schema order. Unset columns are left out. */
  readonly columns: readonly string[]
  /**
   * For `update`: the schema's update columns this group sets (a column a row did not set is
   * never overwritten). Empty means there is nothing to update on a conflict: skip the
   * conflicting row only (`ON CONFLICT (keys) DO NOTHING`, or `ON DUPLICATE KEY UPDATE k = k`),
   * not `INSERT IGNORE` / `OR IGNORE`, which would also skip a NOT NULL or CHECK violation and
   * report the row written (a conformance case checks it).
   * For `replace`: every non-conflict column of the group.
   */
  readonly updateColumns: readonly string[]
}

/** One row as bound values, aligned with `InsertShape.columns` (converted by `toDriverValue`). */
export type DriverRow = readonly unknown[]

/** Rows of one shape, in the order they must be written (conflict-key order for upserts). */
export interface ShapeGroup {
  readonly shape: InsertShape
  /** The rows, one array each (built when read). */
  readonly rows: readonly DriverRow[]
  /**
   * The same rows side by side, row-major: row `r` is `values[r * w .. (r + 1) * w)` with
   * `w = shape.columns.length`. A fast path that streams rows reads this without an array per
   * row.
   */
  readonly values: readonly unknown[]
}

export interface SqlDialectAdapter {
  /** `postgres`, `mysql`, `sqlite`, ...: the default `database` label of the metrics. */
  readonly name: string
  /** Bind parameters one statement may carry (PostgreSQL/MySQL 65 535; SQLite as compiled). */
  readonly maxParameters: number
  /**
   * Rows per INSERT statement, a measured choice: throughput flattens past a few thousand
   * rows, while larger statements cost memory and lock time. The engine uses
   * min(this, floor(maxParameters / columns)).
   */
  readonly rowsPerStatement: number
  /**
   * Largest statement in bytes (MySQL's `max_allowed_packet`), or undefined when the dialect
   * has no such limit. The engine cuts chunks on an upper-bound estimate of the bytes.
   */
  readonly maxStatementBytes?: number | undefined

  /**
   * Each distinct statement text costs about as much as running it the first time (SQLite
   * prepares it), so a batch's rows are cut into few distinct row counts: whole statements of
   * the limit, then the rest in powers of two (437 rows: 256 + 128 + 32 + 16 + 4 + 1), so a
   * shape has at most ten texts, all kept prepared, whatever the batch sizes (partial flushes,
   * batches thinned by coalescing, poison-row bisection). Default: balanced chunks, one text
   * per batch size (what a driver that only sends text wants: fewest statements).
   */
  readonly fewRowCounts?: boolean

  /**
   * The driver expands one `?` bound to an array of row arrays into `(a, b), (c, d)` with its
   * own escaping (mysql2 formats statements on the client and does). The engine then sends
   * `VALUES ?` with a chunk's rows as one parameter, so the driver escapes each value once
   * instead of scanning a statement of thousands of placeholders for each of them.
   */
  readonly bindsRowList?: boolean

  /**
   * Multi-row VALUES may hold `DEFAULT` (PostgreSQL, MySQL; SQLite has no such form). A batch
   * that keeps submit order (rows not merged by key) and whose rows set different columns is
   * then one statement, a column a row did not set written as `DEFAULT` (`UNSET` in the
   * bound rows), instead of one statement per run of rows of one column set. Only for plain
   * inserts, `ignore`, and a `replace` that deletes: on an update, `DEFAULT` would overwrite
   * the stored value of a column the row did not set.
   */
  readonly valuesTakeDefault?: boolean

  /**
   * `replace` deletes the row and inserts the new one (MySQL's `REPLACE`, SQLite's `INSERT OR
   * REPLACE`): a column the row does not set gets its default, not the old value. Rows of one
   * key in a batch then keep the last row whole (keep-last), as writing them one by one would,
   * instead of merging its columns over the earlier rows'.
   */
  readonly replaceDeletes?: boolean

  /**
   * The dialect's `ignore` skips a row that breaks a NOT NULL or CHECK constraint without an
   * error (SQLite's `INSERT OR IGNORE`), not only one whose key exists. The engine then sends
   * an `ignore` batch's rows of one key as they are (default `dedupe: 'first'`) instead of
   * merging them into the first: skipped, the first took a later valid row with it.
   */
  readonly ignoreSkipsInvalidRows?: boolean

  /**
   * A `decimal` is stored as the text given (SQLite, whose adapter keeps decimals as strings
   * for a TEXT column), so `1.50` and `1.5` are two keys there: the engine then compares
   * decimal conflict keys as text when it coalesces a batch, instead of by value, which would
   * merge rows the database keeps apart and lose all but one.
   */
  readonly decimalsAsText?: boolean

  /**
   * A failed statement may keep rows it wrote before failing (SQLite: a `FAIL` conflict
   * resolution the table declares, `RAISE(FAIL)` in a trigger; autocommitted, they stay). The
   * engine then runs a batch of one statement in a transaction too, so that its failure leaves
   * nothing: poison-row isolation would otherwise report a stored row failed (duplicate key)
   * when it wrote it again.
   */
  readonly statementsKeepRows?: boolean

  /**
   * Optional: called once before the first batch, e.g. to read server limits or version
   * (MySQL's `max_allowed_packet`, MariaDB vs MySQL syntax). A failure fails that batch and
   * is retried with the next one.
   */
  init?(db: Kysely<any>): Promise<void>

  /** Converts a core value to what the driver binds for a column of `type`. Never undefined. */
  toDriverValue(value: Value, type: ColumnType): unknown

  /**
   * Optional: whether `toDriverValue()` returns every string and number of a column of `type`
   * unchanged. When it does for every column, a flat plain-insert batch (`Batch.values`) of
   * only strings and numbers is bound as it was buffered, without a converted copy.
   */
  passesThrough?(type: ColumnType): boolean

  /**
   * Builds the INSERT for `rows` with the conflict clause of `shape.schema.strategy`:
   * `insertInto` + `.ignore()` / `.orIgnore()` / `replaceInto` / `.onConflict()` /
   * `.onDuplicateKeyUpdate()`. Identifiers only through Kysely (quoted), values only bound,
   * in row-major, column order (the engine reuses the SQL text for batches of the same shape
   * and row count, with new parameters).
   */
  buildInsert(
    db: Kysely<any>,
    shape: InsertShape,
    rows: readonly Record<string, unknown>[],
  ): Compilable<unknown>

  /** Maps the driver's errors (SQLSTATE, errno, SQLite code) to a reason and retryability. */
  classify(err: unknown): Classification | undefined

  /**
   * Optional: whether `err`, thrown by a statement that commits (one run on its own, or a
   * COMMIT), means the connection was lost while it was in flight, so that it may have
   * committed without its reply arriving. The engine then reports a plain-insert batch with
   * `BATCHSQL_OUTCOME_UNKNOWN` instead of retrying it (a retry could write its rows twice);
   * batches of the other strategies are idempotent and still retried. It is asked about every
   * error such a statement throws, a server's error reply included: answer `true` only when
   * no reply can have arrived (the connection dropped), never for an error reply (a duplicate
   * key means nothing was written). Without it, every error classified `connection` counts
   * as lost in flight.
   */
  lostInFlight?(err: unknown): boolean

  /**
   * Optional: removes row values from a driver error (mysql2 puts the statement it sent, every
   * value inlined, on `err.sql`). The engine calls it on every error a batch's statements
   * throw, and on each error of its `cause` chain, before the error leaves the engine: before
   * any classifier (the application's run first) or report sees it, whichever path it takes.
   */
  redactError?(err: unknown): void

  /**
   * Optional: runs the compiled statements of one batch, in order, in one transaction on the
   * bare driver (e.g. SQLite with cached prepared statements). Return `false` to let the
   * engine run them through Kysely instead. What it throws goes through `lostInFlight` as the
   * engine's own COMMIT does: a lost reply makes a batch a retry could write twice
   * `BATCHSQL_OUTCOME_UNKNOWN`.
   */
  runStatements?(statements: readonly CompiledQuery[], ctx: ProcessContext): Promise<boolean>

  /**
   * Optional fast path for a whole batch (PostgreSQL COPY), in one transaction of its own.
   * Return `false` to fall back to the INSERT path for this batch.
   */
  writeFast?(groups: readonly ShapeGroup[], ctx: ProcessContext): Promise<boolean>

  /** Optional: finish batches held back (`BatchProcessor.expedite`, SQLite's group commit). */
  expedite?(): void

  /** Releases resources the adapter created (never a pool the user passed in). */
  close?(): Promise<void>
}

/** What `preview()` returns: the statements a batch would run, without running them. */
export interface StatementPreview {
  /** SQL text of the first statement (chunks of one shape share it but for the row count). */
  readonly sql: string
  /** Bind parameters of the first statement. */
  readonly parameters: readonly unknown[]
  /** Bind parameters over all statements of the batch. */
  readonly parameterCount: number
  /** Statements the batch splits into. */
  readonly statements: number
  /**
   * Hash of the first statement's shape: the dialect and the SQL text of a one-row statement
   * of it as the Kysely instance compiles it (plugins and `withSchema()` included). The same
   * for any row count and values; different when the table, columns, strategy or conflict
   * clause written differ.
   */
  readonly fingerprint: string
  /** Rows after coalescing, and rows folded into another. */
  readonly rows: number
  readonly duplicates: number
}
