import { BatchSQLError, type ColumnType, type ProcessContext, type Value } from '@batchsql/core'
import {
  hasUnset,
  type InsertShape,
  type ShapeGroup,
  type SqlDialectAdapter,
} from '@batchsql/kysely'
import type { CompiledQuery, Kysely } from 'kysely'
import type pg from 'pg'
import { classifyPostgresError, lostInFlightPostgres } from './classify.js'
import { withConflictClause } from './conflict.js'
import { copyBatch, copyTableInfo, preloadCopyStreams, type TableInfoCache } from './copy.js'
import { messageTooLargeError, oversizeBind, POSTGRES_MAX_MESSAGE_BYTES } from './message-size.js'
import { toPgValue } from './values.js'

/** When the COPY fast path is used: never, for plain inserts, or for every strategy. */
export type CopyMode = 'never' | 'insert' | 'always'

export interface PostgresAdapterOptions {
  /** The pool COPY runs on (Kysely does not expose its connections). Without it, no COPY. */
  pool?: pg.Pool
  /** Default `never`; a schema's `adapterOptions: { copy: true | false }` overrides it. */
  copy?: CopyMode
  /** Rows per INSERT statement. Default 2 000 (measured: see the README). */
  rowsPerStatement?: number
}

/** PostgreSQL's wire protocol counts bind parameters in 16 bits. */
export const POSTGRES_MAX_PARAMETERS = 65_535

export class PostgresAdapter implements SqlDialectAdapter {
  readonly name = 'postgres'
  readonly maxParameters = POSTGRES_MAX_PARAMETERS
  readonly maxStatementBytes = POSTGRES_MAX_MESSAGE_BYTES
  readonly valuesTakeDefault = true
  readonly rowsPerStatement: number
  private readonly pool: pg.Pool | undefined
  private readonly copy: CopyMode
  private readonly tables: TableInfoCache = new Map()

  constructor(options: PostgresAdapterOptions = {}) {
    this.pool = options.pool
    this.copy = options.copy ?? 'never'
    // Anything else (true, 'yes') turned COPY off without a word.
    if (this.copy !== 'never' && this.copy !== 'insert' && this.copy !== 'always')
      throw new BatchSQLError(
        'BATCHSQL_INVALID_CONFIG',
        "copy must be 'never', 'insert' or 'always'",
      )
    if (this.copy !== 'never') {
      // Else every batch would quietly take the INSERT path.
      if (this.pool === undefined)
        throw new BatchSQLError(
          'BATCHSQL_INVALID_CONFIG',
          'copy needs a pg pool: with a Kysely target, pass it as the pool option',
        )
      preloadCopyStreams()
    }
    this.rowsPerStatement = options.rowsPerStatement ?? 2000
  }

  toDriverValue(value: Value, type: ColumnType): unknown {
    return toPgValue(value, type)
  }

  // Only a JSON column converts strings and numbers (to their JSON text).
  passesThrough(type: ColumnType): boolean {
    return type !== 'json'
  }

  buildInsert(db: Kysely<any>, shape: InsertShape, rows: readonly Record<string, unknown>[]) {
    return withConflictClause(
      db.insertInto(shape.schema.table).values(rows as Record<string, unknown>[]),
      shape,
    )
  }

  classify = classifyPostgresError
  lostInFlight = lostInFlightPostgres

  /**
   * Runs nothing (returns false: the engine runs the statements): refuses, before anything is
   * sent, a statement whose Bind message is over PostgreSQL's 1 GiB (message-size.ts).
   */
  async runStatements(statements: readonly CompiledQuery[]): Promise<boolean> {
    for (const s of statements) {
      const over = oversizeBind(s)
      if (over !== undefined) throw messageTooLargeError(over)
    }
    return false
  }

  /** Whether a batch of these shapes goes through COPY. */
  usesCopy(groups: readonly ShapeGroup[]): boolean {
    if (groups.length === 0) return false
    const schema = groups[0]!.shape.schema
    // A misspelt key (`coppy: true`) would otherwise leave COPY off without a word.
    for (const key of Object.keys(schema.adapterOptions))
      if (key !== 'copy')
        throw new BatchSQLError(
          'BATCHSQL_INVALID_SCHEMA',
          `table "${schema.table}": unknown adapterOptions key "${key}" (PostgreSQL takes copy)`,
        )
    const opt = schema.adapterOptions.copy
    // `copy: 'always'` (the factory's words) would otherwise be ignored without a word.
    if (opt !== undefined && opt !== true && opt !== false)
      throw new BatchSQLError(
        'BATCHSQL_INVALID_SCHEMA',
        `table "${schema.table}": adapterOptions.copy must be true or false (the factory option takes 'never' | 'insert' | 'always')`,
      )
    if (opt === true && this.pool === undefined)
      throw new BatchSQLError(
        'BATCHSQL_INVALID_SCHEMA',
        `table "${schema.table}": adapterOptions.copy needs a pg pool (with a Kysely target, pass it as the pool option)`,
      )
    if (this.pool === undefined) return false
    const wanted =
      opt ?? (this.copy === 'always' || (this.copy === 'insert' && schema.strategy === 'insert'))
    // COPY has no DEFAULT for one row: a batch of rows that set different columns (kept in
    // submit order, as one INSERT with DEFAULT in it) takes the INSERT path.
    return wanted && !bytesInAnyColumn(groups) && !hasUnset(groups)
  }

  /**
   * Whether a plain-insert group must take the INSERT path: it writes a value into a
   * `GENERATED ALWAYS` identity column, or its table has row-level security (`CopyTableInfo`).
   */
  private async insertPathOnly(groups: readonly ShapeGroup[]): Promise<boolean> {
    for (const g of groups) {
      if (g.shape.schema.strategy !== 'insert') continue // upserts end in INSERT … SELECT
      const info = await copyTableInfo(this.pool!, g.shape.schema.table, this.tables)
      if (info.rowSecurity || g.shape.columns.some((c) => info.alwaysIdentity.has(c))) return true
    }
    return false
  }

  async writeFast(groups: readonly ShapeGroup[], ctx: ProcessContext): Promise<boolean> {
    if (!this.usesCopy(groups)) return false
    if (await this.insertPathOnly(groups)) return false
    await copyBatch(this.pool!, groups, ctx)
    return true
  }
}

/**
 * Bytes in an `any` column: INSERT binds them as bytes, which a bytea column keeps as bytes and
 * a text column as their text, while COPY's text format must pick one spelling (`\x…` is
 * bytea's; a text column would keep those characters). Such a batch takes the INSERT path, so
 * both paths leave identical rows. Only schemas with an `any` column pay for the scan.
 */
function bytesInAnyColumn(groups: readonly ShapeGroup[]): boolean {
  for (const g of groups) {
    const { schema, columns } = g.shape
    const width = columns.length
    const at: number[] = []
    for (let c = 0; c < width; c++)
      if (schema.types[schema.columns.indexOf(columns[c]!)] === 'any') at.push(c)
    if (at.length === 0) continue
    for (let i = 0; i < g.values.length; i += width)
      for (const c of at) if (g.values[i + c] instanceof Uint8Array) return true
  }
  return false
}
