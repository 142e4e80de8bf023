import type { ColumnType, Value } from '@batchsql/core'
import { type InsertShape, type SqlDialectAdapter, UNSET } from '@batchsql/kysely'
import { type Compilable, CompiledQuery, type Kysely, sql } from 'kysely'
import mysql from 'mysql2'
import { classifyMysqlError, lostInFlightMysql, redactMysqlError } from './classify.js'
import { autocommitOffError, hasNoBackslashEscapes, noBackslashEscapesError } from './session.js'
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

// Bytes each value adds to the statement mysql2 formats, besides its own text: quotes,
// separators, a row's parentheses; also the whole of a number (at most 25 characters),
// boolean or NULL.
const PER_VALUE = 32

/**
 * At most the bytes `values` take in the statement mysql2 formats: a string's UTF-16 units
 * each become 1 to 3 UTF-8 bytes, or a 2-byte escape; bytes become X'hex'. Anything unusual
 * (an object mysql2 would stringify) counts as too large, so that it is measured exactly.
 */
function boundBytes(values: readonly unknown[]): number {
  let n = 0
  for (let i = 0; i < values.length; i++) {
    const v = values[i]
    if (typeof v === 'string') n += v.length * 3 + PER_VALUE
    else if (typeof v === 'number' || v === null || v === undefined || typeof v === 'boolean')
      n += PER_VALUE
    else if (Array.isArray(v)) n += boundBytes(v) + PER_VALUE
    else if (v instanceof Uint8Array) n += v.byteLength * 2 + PER_VALUE
    else if (typeof v === 'bigint') n += v.toString().length + PER_VALUE
    else if (v === UNSET) n += 'DEFAULT'.length + PER_VALUE
    else return Number.POSITIVE_INFINITY
  }
  return n
}

// Room kept under max_allowed_packet. The packet also carries a command byte, and the server
// needs a little more than that: with a 16 MiB limit MariaDB 10.11 took a statement 6 bytes
// under it but refused ones 3 to 5 bytes under it (1156 "packets out of order", or a reset
// socket, which reads as a lost connection and fails the whole batch), depending on whether
// a transaction was open. A margin of 1 KiB costs nothing (multi-row statements are cut far
// below the limit anyway) and leaves the server's few bytes of slack out of the question.
const PACKET_MARGIN = 1024

/**
 * The bytes of `statement` as mysql2 sends it (values inlined), if that is more than a
 * `maxAllowedPacket` server takes, margin included; undefined when it fits. Exact only near the limit: below it a
 * cheap upper bound decides.
 */
export function oversizeStatementBytes(
  statement: { readonly sql: string; readonly parameters: readonly unknown[] },
  maxAllowedPacket: number,
): number | undefined {
  const bound = statement.sql.length * 3 + boundBytes(statement.parameters) + PACKET_MARGIN
  if (bound <= maxAllowedPacket) return undefined
  const text = mysql.format(
    statement.sql,
    statement.parameters as Parameters<typeof mysql.format>[1],
  )
  const bytes = Buffer.byteLength(text, 'utf8')
  return bytes + PACKET_MARGIN > maxAllowedPacket ? bytes : undefined
}

/**
 * The error for a statement larger than max_allowed_packet, raised before it is sent: the
 * server's own (1153, SQLSTATE 08S01) also closes the connection, or shows as a reset socket.
 * Shaped as mysql2's, classified `data` (the engine cuts statements under the limit, so it is
 * one row too large: isolated, the other rows commit).
 */
function packetTooLargeError(sqlText: string, bytes: number, maxAllowedPacket: number) {
  const message = `statement of ${bytes} bytes is larger than max_allowed_packet (${maxAllowedPacket} bytes) less ${PACKET_MARGIN} bytes of margin; not sent`
  const err = Object.assign(new Error(message), {
    code: 'ER_NET_PACKET_TOO_LARGE',
    errno: 1153,
    sqlState: '08S01',
    sqlMessage: message,
    sql: sqlText,
  })
  redactMysqlError(err, sqlText)
  return err
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

  constructor(options: MysqlAdapterOptions = {}) {
    this.rowsPerStatement = options.rowsPerStatement ?? 2000
  }

  async init(db: Kysely<any>): Promise<void> {
    const { rows } = await sql<{
      packet: number | string
      version: string
      mode: string | null
      ac: number | string
    }>`SELECT @@max_allowed_packet AS packet, VERSION() AS version, @@session.sql_mode AS mode, @@session.autocommit AS ac`.execute(
      db,
    )
    const row = rows[0]!
    // mysql2 escapes with backslashes, and a one-statement batch relies on autocommit; a pool
    // BatchSQL wraps checks each connection, a Kysely of yours is checked here, on the
    // connection this query ran on.
    if (hasNoBackslashEscapes(String(row.mode ?? ''))) throw noBackslashEscapesError()
    if (Number(row.ac) === 0) throw autocommitOffError()
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
  async runStatements(statements: readonly CompiledQuery[]): Promise<boolean> {
    const limit = this.server?.maxAllowedPacket
    if (limit === undefined || !(limit > 0)) return false
    for (const s of statements) {
      const bytes = oversizeStatementBytes(s, limit)
      if (bytes !== undefined) throw packetTooLargeError(s.sql, bytes, limit)
    }
    return false
  }

  classify = classifyMysqlError
  lostInFlight = lostInFlightMysql
}
