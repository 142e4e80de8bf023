import type { ColumnType, ProcessContext, Value } from '@batchsql/core'
import type { InsertShape, SqlDialectAdapter } from '@batchsql/kysely'
import { type Compilable, CompiledQuery, type Kysely, sql } from 'kysely'
import { classifyMysqlError, lostInFlightMysql, redactMysqlError } from './classify.js'
import { oversizeStatement, packetTooLargeError, type StringSizes } from './packet.js'
import {
  refuseOracleMode,
  refuseSession,
  SESSION_COLUMNS,
  type SessionSettings,
} from './session.js'
import { toMysqlValue } from './values.js'

export interface MysqlAdapterOptions {
  /** Rows per INSERT statement. Default 2 000 (measured: see the README). */
  rowsPerStatement?: number
}

/** The server's prepared-statement placeholder limit; mysql2's `query()` stays under it too. */
export const MYSQL_MAX_PARAMETERS = 65_535

/** What `init()` learns from the server. */
export interface MysqlServerInfo {
  version: string
  mariadb: boolean
  /** MySQL >= 8.0.19 takes `INSERT … AS new ON DUPLICATE KEY UPDATE c = new.c` (VALUES() is deprecated there). */
  rowAlias: boolean
  maxAllowedPacket: number
}

export function parseServerVersion(version: string, maxAllowedPacket: number): MysqlServerInfo {
  const mariadb = /mariadb/i.test(version)
  const [major = 0, minor = 0, patch = 0] = version.split(/[.-]/).map((p) => Number.parseInt(p, 10))
  const rowAlias = !mariadb && (major > 8 || (major === 8 && (minor > 0 || patch >= 19)))
  return { version, mariadb, rowAlias, maxAllowedPacket }
}

export class MysqlAdapter implements SqlDialectAdapter {
  readonly name = 'mysql'
  readonly maxParameters = MYSQL_MAX_PARAMETERS
  // mysql2 inlines values on the client; a `?` bound to the rows is escaped in one pass, where
  // a placeholder per value made it scan the statement for each (10 % of BatchSQL's CPU).
  readonly bindsRowList = true
  // REPLACE deletes the old row: unset columns take their defaults.
  readonly replaceDeletes = true
  readonly valuesTakeDefault = true
  readonly rowsPerStatement: number
  /** Set by `init()`: mysql2's `query()` inlines values, so the packet is the whole SQL text. */
  maxStatementBytes: number | undefined
  server: MysqlServerInfo | undefined
  /** Long strings measured against the packet, per attempt (bisection measures rows again). */
  private readonly measured = new WeakMap<ProcessContext, StringSizes>()

  /**
   * Set by the factory when it is given a Kysely instance: statements then reach mysql2
   * without BatchSQL's session wrapper, which rewrites Kysely's BEGIN (`refuseOracleMode`).
   */
  kyselyTarget = false

  constructor(options: MysqlAdapterOptions = {}) {
    this.rowsPerStatement = options.rowsPerStatement ?? 2000
  }

  async init(db: Kysely<any>): Promise<void> {
    const { rows } = await sql<
      SessionSettings & { packet: number | string; version: string }
    >`SELECT @@max_allowed_packet AS packet, VERSION() AS version, ${sql.raw(SESSION_COLUMNS)}`.execute(
      db,
    )
    const row = rows[0]!
    // mysql2 escapes with backslashes, and a one-statement batch relies on autocommit; a pool
    // BatchSQL wraps checks each connection, a Kysely of yours is checked here, on the
    // connection this query ran on (the server's side of its character set: mysql2's
    // connection is out of reach behind Kysely).
    refuseSession(row)
    if (this.kyselyTarget) refuseOracleMode(row)
    this.server = parseServerVersion(row.version, Number(row.packet))
    this.maxStatementBytes = this.server.maxAllowedPacket
  }

  toDriverValue(value: Value, type: ColumnType): unknown {
    return toMysqlValue(value, type)
  }

  // Only a JSON column converts strings and numbers (to their JSON text).
  passesThrough(type: ColumnType): boolean {
    return type !== 'json'
  }

  buildInsert(
    db: Kysely<any>,
    shape: InsertShape,
    rows: readonly Record<string, unknown>[],
  ): Compilable<unknown> {
    const { schema } = shape
    const values = rows as Record<string, unknown>[]
    switch (schema.strategy) {
      case 'insert':
        return db.insertInto(schema.table).values(values)
      case 'ignore':
        return db.insertInto(schema.table).values(values).ignore()
      case 'replace':
        return db.replaceInto(schema.table).values(values)
      case 'update': {
        const insert = db.insertInto(schema.table).values(values)
        // Nothing to update for these rows: a no-op assignment, not INSERT IGNORE (which would
        // also turn NOT NULL and truncation errors into warnings).
        const key = schema.conflictColumns[0]!
        if (shape.updateColumns.length === 0)
          return insert.onDuplicateKeyUpdate({ [key]: sql`${sql.id(key)}` })
        if (this.server?.rowAlias) {
          // Kysely has no row alias: append it to the compiled INSERT (identifiers quoted by
          // Kysely's compiler, as everywhere else).
          const set = sql
            .join(shape.updateColumns.map((c) => sql`${sql.id(c)} = ${sql.id('new', c)}`))
            .compile(db).sql
          return {
            compile: () => {
              const c = insert.compile()
              return CompiledQuery.raw(`${c.sql} as \`new\` on duplicate key update ${set}`, [
                ...c.parameters,
              ])
            },
          }
        }
        return insert.onDuplicateKeyUpdate(
          Object.fromEntries(shape.updateColumns.map((c) => [c, sql`values(${sql.id(c)})`])),
        )
      }
    }
  }

  /**
   * Runs nothing (returns false: the engine runs the statements): refuses, before anything is
   * sent, a statement larger than `max_allowed_packet`. The server would end it with error
   * 1153 and close the connection, or reset it while the statement is still being written
   * (ECONNRESET, which looks like a reply lost in flight).
   */
  async runStatements(statements: readonly CompiledQuery[], ctx: ProcessContext): Promise<boolean> {
    const limit = this.server?.maxAllowedPacket
    if (limit === undefined || !(limit > 0)) return false
    let sizes = this.measured.get(ctx)
    if (sizes === undefined) {
      sizes = new Map()
      this.measured.set(ctx, sizes)
    }
    for (const s of statements) {
      const over = oversizeStatement(s, limit, sizes)
      if (over !== undefined) throw packetTooLargeError(s.sql, over, limit)
    }
    return false
  }

  classify = classifyMysqlError
  lostInFlight = lostInFlightMysql
  redactError(err: unknown): void {
    redactMysqlError(err)
  }
}
