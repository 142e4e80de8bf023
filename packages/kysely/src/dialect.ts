/**
 * The dialect contract: everything a SQL dialect contributes to the shared engine. The
 * engine (see `engine.ts`) does the rest: coalescing in-batch duplicates, ordering rows by
 * conflict key, chunking under the parameter / statement-size limits, one transaction per
 * batch, poison-row isolation, preview. A new dialect is this interface plus a factory.
 */
import type { Batch, Classification, ColumnType, ProcessContext, Request, Schema, Value } from '@batchsql/core'
import type { Compilable, InsertQueryBuilder, InsertResult, Kysely, Transaction } from 'kysely'

/** The statement shape of one batch: which columns it writes, under which schema. */
export interface InsertShape {
  readonly schema: Schema
  /** Columns this statement writes, in schema order (the union of columns the batch set). */
  readonly columns: readonly string[]
}

/** One row as bound values, keyed by column name (already converted by `toDriverValue`). */
export type DriverRow = Record<string, unknown>

export interface SqlDialectAdapter {
  /** `postgres`, `mysql`, `sqlite`, ...: the `database` label and error prefix. */
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
   * Largest statement in bytes (MySQL's `max_allowed_packet`, read from the server at
   * start-up), or undefined when the dialect has no such limit.
   */
  readonly maxStatementBytes?: number

  /** Converts a core value to what the driver binds for a column of `type`. */
  toDriverValue(value: Value, type: ColumnType): unknown

  /**
   * Builds the INSERT for `rows` with the conflict clause of `shape.schema.strategy`:
   * `insertInto` / `.ignore()` / `.orIgnore()` / `replaceInto` / `.onConflict()` /
   * `.onDuplicateKeyUpdate()`. Identifiers only through Kysely (quoted), values only bound.
   */
  buildInsert(db: Kysely<any>, shape: InsertShape, rows: readonly DriverRow[]): InsertQueryBuilder<any, any, InsertResult> | Compilable<unknown>

  /** Maps the driver's errors (SQLSTATE, errno, SQLite code) to a reason and retryability. */
  classify(err: unknown): Classification | undefined

  /**
   * Optional fast path for a whole batch inside the engine's transaction (PostgreSQL COPY).
   * Return `false` to fall back to the INSERT path for this batch.
   */
  writeFast?(trx: Transaction<any>, shape: InsertShape, rows: readonly Request[], ctx: ProcessContext): Promise<boolean>

  /** Releases resources the adapter created (never a pool the user passed in). */
  close?(): Promise<void>
}

/** What `preview()` returns: the statement a batch would run, without running it. */
export interface StatementPreview {
  /** SQL text of the first statement (chunks of the same shape share it but for row count). */
  readonly sql: string
  /** Bind parameters of all statements of the batch. */
  readonly parameters: number
  /** Statements the batch splits into. */
  readonly statements: number
  /** Hash of the statement's shape (table, columns, strategy, dialect); row-count independent. */
  readonly fingerprint: string
  /** Rows after coalescing, and rows folded into another. */
  readonly rows: number
  readonly duplicates: number
}

export type { Batch }
