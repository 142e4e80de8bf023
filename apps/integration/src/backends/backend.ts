/**
 * What the app needs from each database: a fresh table per scenario, a pipeline on its own
 * connection, a way to read everything back for verification, poison rows and a fault.
 */
import type { BatchSQL, Schema } from '@batchsql/core'
import type { DatabaseName } from '../config.js'
import type { AppRow } from '../rows.js'

export type Strategy = 'insert' | 'update' | 'replace'

/**
 * The strategies each database can express (Redis has no partial-row update), known before
 * connecting: a selection of scenarios none of which applies is refused as a bad setting.
 */
export const STRATEGIES: Readonly<Record<DatabaseName, readonly Strategy[]>> = {
  sqlite: ['insert', 'update', 'replace'],
  postgres: ['insert', 'update', 'replace'],
  mysql: ['insert', 'update', 'replace'],
  redis: ['insert', 'replace'],
}

export interface TableOptions {
  keyless?: boolean
}

export interface PipelineOptions {
  flushSize: number
  bufferSize: number
  flushInterval: number
  /** Retries generous enough to ride out the fault scenario. */
  retry?: { maxAttempts?: number; initialDelayMs?: number; maxDelayMs?: number }
  metrics?: import('@batchsql/core').MetricsReporter
}

export interface Backend {
  readonly name: DatabaseName
  /** Strategies this backend can express (Redis has no partial-row update). */
  readonly strategies: readonly Strategy[]
  /** SQLite: the file this run uses (producer processes must open that one). */
  readonly file?: string
  /** Said once when opened: a setting the run could not follow as given, and what it did. */
  readonly notice?: string
  /**
   * Creates the scenario's table (dropping any leftover of the same name); `keyless`: without
   * a unique key, so a row written twice is stored twice (Redis: a list per id, appended to).
   */
  createTable(table: string, options?: TableOptions): Promise<void>
  dropTable(table: string): Promise<void>
  schema(table: string, strategy: Strategy, options?: TableOptions): Schema<any>
  /** The object submitted for a row (SQL: the row; Redis: a command's columns). */
  toSubmit(table: string, row: AppRow): Record<string, unknown>
  /** The row id of an object `toSubmit` made (failures on the `errors` stream carry those). */
  idOf(submitted: Record<string, unknown>): number
  /** A pipeline on a connection of its own; `close()` on it releases that connection. */
  pipeline(options: PipelineOptions): BatchSQL
  /**
   * Every stored row as a canonical line (see rows.ts), in any order, page by page (each
   * copy of a row stored twice included): the verifier keeps a digest per row, never the
   * whole table in memory.
   */
  readBack(table: string, onLine: (line: string) => void): Promise<void>
  /** Turns a row into one the database rejects (and prepares the database for it). */
  poison(row: AppRow): AppRow
  preparePoison?(table: string, ids: readonly number[]): Promise<void>
  /** Drops the pipeline's connections (or locks the database) mid-run; says what it did. */
  injectFault(): Promise<string>
  close(): Promise<void>
}
