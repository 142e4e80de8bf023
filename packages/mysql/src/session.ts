/**
 * The sessions BatchSQL writes through. A pool BatchSQL creates has each new connection set up
 * before its first use: UTC time zone, no NO_BACKSLASH_ESCAPES, autocommit on, statement and
 * lock-wait limits. A pool you pass is never changed, only checked (once per connection, one
 * SELECT): a session in NO_BACKSLASH_ESCAPES, with autocommit off or a character set other
 * than utf8mb4 is refused, and a statement
 * that lands in a transaction BatchSQL did not open is undone. Every statement's error has its
 * row values removed.
 */
import { BatchSQLError } from '@batchsql/core'
import type { MysqlPool, MysqlPoolConnection } from 'kysely'
import mysql from 'mysql2'
import { redactMysqlError } from './classify.js'

/** `sql_mode` flags that change what a row's values become, and why each is refused. */
const REFUSED_MODES: Readonly<Record<string, string>> = {
  NO_BACKSLASH_ESCAPES:
    'mysql2 escapes values with backslashes, which that mode takes literally (strings would ' +
    'be corrupted or end early)',
  // MariaDB: '' is stored as NULL (or a valid row fails in a NOT NULL column).
  EMPTY_STRING_IS_NULL: "the server stores an empty string as NULL, not as ''",
}

/** The flags of a `sql_mode` value, upper case. */
const sqlModeFlags = (sqlMode: string) => sqlMode.split(',').map((m) => m.trim().toUpperCase())

/** The first flag of `sqlMode` BatchSQL will not write through, if any. */
function refusedSqlMode(sqlMode: string): string | undefined {
  return sqlModeFlags(sqlMode).find((m) => m in REFUSED_MODES)
}

/** The error of a session BatchSQL will not write through: final, nothing was sent. */
function sqlModeError(mode: string): BatchSQLError {
  return new BatchSQLError(
    'BATCHSQL_INVALID_CONFIG',
    `the MySQL session's sql_mode contains ${mode}: ${REFUSED_MODES[mode]}, so BatchSQL ` +
      'writes nothing through it; remove the mode from the session (see the @batchsql/mysql ' +
      'README, "Server settings")',
  )
}

/**
 * The error of a session whose character set is not utf8mb4. mysql2 encodes the statement it
 * formats in the connection's character set: for latin1 or ascii it keeps the low byte of each
 * character, so a letter such as U+0427 becomes a quote after escaping, and a row's text could
 * end its string and write SQL of its own; other character sets replace or mangle what they
 * cannot encode, and the row is reported written.
 */
export function charsetError(charset: string): BatchSQLError {
  return new BatchSQLError(
    'BATCHSQL_INVALID_CONFIG',
    `the MySQL connection's character set is ${charset}, not utf8mb4: mysql2 would encode ` +
      'values in it (text it cannot hold altered, or, for latin1 and ascii, characters turned ' +
      "into quotes), so BatchSQL writes nothing through it; use mysql2's default charset " +
      '(see the @batchsql/mysql README, "Server settings")',
  )
}

// mysql2's table of its charset numbers' encodings (exported, not in its typings).
const charsetEncodings = (mysql as unknown as { CharsetToEncoding?: readonly string[] })
  .CharsetToEncoding

/**
 * The character set of a session BatchSQL will not write through, if it is not utf8mb4: the
 * server's (`character_set_client`, how it decodes the statement, and
 * `character_set_connection`, what it converts the statement's strings to) and mysql2's.
 */
function refusedCharset(
  serverCharsets: readonly string[],
  clientCharsetNumber: number | undefined,
): string | undefined {
  const server = serverCharsets.find((c) => c.toLowerCase() !== 'utf8mb4')
  return server ?? refusedClientCharset(clientCharsetNumber)
}

/**
 * mysql2's encoding of a connection's statements, if it is not UTF-8: its charset number, which
 * follows a `SET NAMES` the server reports (session tracking), so it is read before every
 * statement at no cost (a connection checked once could be switched to latin1 by your code).
 */
export function refusedClientCharset(charsetNumber: number | undefined): string | undefined {
  const encoding = charsetNumber === undefined ? undefined : charsetEncodings?.[charsetNumber]
  return encoding !== undefined && encoding !== 'utf8' ? `${encoding} (mysql2's)` : undefined
}

/** The session settings `refuseSession()` judges, as a SELECT list. */
export const SESSION_COLUMNS =
  '@@session.sql_mode AS mode, @@session.autocommit AS ac, @@session.character_set_client AS cs, @@session.character_set_connection AS cc'

/** One row of `SESSION_COLUMNS`. */
export interface SessionSettings {
  readonly mode?: unknown
  readonly ac?: unknown
  readonly cs?: unknown
  readonly cc?: unknown
}

/**
 * Throws the error of a session BatchSQL will not write through (a refused `sql_mode` flag,
 * autocommit off, a character set other than utf8mb4: the server's, and mysql2's when its
 * connection is at hand). One judge for a pool's connections and a Kysely target's.
 */
export function refuseSession(settings: SessionSettings, clientCharsetNumber?: number): void {
  const mode = refusedSqlMode(String(settings.mode ?? ''))
  if (mode !== undefined) throw sqlModeError(mode)
  if (Number(settings.ac) === 0) throw autocommitOffError()
  const charset = refusedCharset([String(settings.cs), String(settings.cc)], clientCharsetNumber)
  if (charset !== undefined) throw charsetError(charset)
}

/**
 * A Kysely of yours in MariaDB's sql_mode ORACLE: Kysely's MySQL driver opens a transaction
 * with a bare BEGIN, which that mode reads as the start of a block (1064), so every batch of
 * several statements would fail as a syntax error; on a pool BatchSQL wraps, its sessions send
 * START TRANSACTION instead (`SessionConnection`).
 */
export function refuseOracleMode(settings: SessionSettings): void {
  if (sqlModeFlags(String(settings.mode ?? '')).includes('ORACLE'))
    throw new BatchSQLError(
      'BATCHSQL_INVALID_CONFIG',
      "the MySQL session's sql_mode contains ORACLE, where the BEGIN that Kysely's MySQL " +
        'driver opens a transaction with starts a block instead, so BatchSQL writes nothing ' +
        'through it; pass the mysql2 pool instead of the Kysely instance, or remove the mode ' +
        '(see the @batchsql/mysql README, "Server settings")',
    )
}

/**
 * The error of a session with autocommit off: a batch of one statement runs without a
 * transaction of BatchSQL's and would stay uncommitted, then vanish with the connection.
 */
function autocommitOffError(): BatchSQLError {
  return new BatchSQLError(
    'BATCHSQL_INVALID_CONFIG',
    "the MySQL session's autocommit is off: a batch BatchSQL writes as one statement would " +
      'never be committed, so BatchSQL writes nothing through it; set autocommit = 1 on the ' +
      'pool\'s connections (see the @batchsql/mysql README, "Server settings")',
  )
}

/**
 * A statement BatchSQL ran outside a transaction of its own came back inside one (the server's
 * "in transaction" status flag): the connection was handed over with a transaction still open
 * (a `BEGIN` released without `COMMIT`), so the rows would commit, or not, with someone else's
 * work. The connection is destroyed, which rolls the statement back on the server: nothing of
 * the batch is written, and the retry takes another connection.
 */
export class ForeignTransactionError extends BatchSQLError {
  declare readonly code: 'BATCHSQL_FOREIGN_TRANSACTION'
  constructor() {
    super(
      'BATCHSQL_FOREIGN_TRANSACTION',
      'a MySQL connection of the pool was inside a transaction BatchSQL did not open; the ' +
        'connection was closed, which rolled the statement back',
    )
  }
}

/** mysql2's OK packet status: SERVER_STATUS_IN_TRANS. */
const SERVER_STATUS_IN_TRANS = 0x0001

export interface SessionOptions {
  /** The pool is BatchSQL's own: set its sessions up. Otherwise they are only checked. */
  owned: boolean
  /** The executor's `timeoutMs` (0: none): the statement and lock-wait limits of an owned pool. */
  timeoutMs: number
}

type Callback = (err: unknown, result?: unknown) => void

function run(conn: mysql.PoolConnection, sql: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    conn.query(sql, (err: unknown, rows: unknown) => (err ? reject(err) : resolve(rows)))
  })
}

// sql_mode without the refused flags, evaluated by the server in the SET itself.
const SQL_MODE_WITHOUT_REFUSED = `TRIM(BOTH ',' FROM ${Object.keys(REFUSED_MODES).reduce(
  (expr, mode) => `REPLACE(${expr}, ',${mode},', ',')`,
  "CONCAT(',', @@session.sql_mode, ',')",
)})`

/**
 * Session settings of an owned pool's connection. `time_zone` '+00:00': BatchSQL writes dates
 * as UTC text, which a TIMESTAMP column reads in the session's zone. No NO_BACKSLASH_ESCAPES
 * (mysql2 escapes with backslashes) nor EMPTY_STRING_IS_NULL ('' would be NULL). Limits from `timeoutMs`: the server then ends a statement
 * the executor has given up on (one blocked on a row lock, say) with an error, so the attempt
 * fails for certain and is retried, instead of an outcome nobody knows while the statement may
 * still commit. MariaDB's `max_statement_time` covers every statement (fractions of a second);
 * MySQL has no such limit for writes, so there only lock waits are bounded
 * (`innodb_lock_wait_timeout`, whole seconds, at least 1).
 */
async function setUp(conn: mysql.PoolConnection, timeoutMs: number): Promise<void> {
  const set = ["time_zone = '+00:00'", `sql_mode = ${SQL_MODE_WITHOUT_REFUSED}`, 'autocommit = 1']
  if (timeoutMs > 0)
    set.push(`innodb_lock_wait_timeout = ${Math.max(1, Math.floor(timeoutMs / 1000))}`)
  await run(conn, `SET SESSION ${set.join(', ')}`)
  // Unknown on MySQL (error 1193): nothing to set there.
  if (timeoutMs > 0)
    await run(conn, `SET SESSION max_statement_time = ${timeoutMs / 1000}`).catch(() => {})
}

const UTC_NAMES = new Set(['+00:00', '-00:00', 'UTC', 'GMT', 'Etc/UTC', 'Etc/GMT', 'Z'])
/** Pools already warned about a session outside UTC (once per pool, not per connection). */
const warnedPools = new WeakSet<object>()

/**
 * Whether a session's `time_zone` is UTC: its own name, or SYSTEM on a server whose zone is.
 * (A zone that is UTC only in winter, Europe/London, is not.)
 */
export function isUtcSession(timeZone: string, systemTimeZone: string): boolean {
  return UTC_NAMES.has(timeZone) || (timeZone === 'SYSTEM' && UTC_NAMES.has(systemTimeZone))
}

/**
 * Refuses a session in NO_BACKSLASH_ESCAPES (read, never changed). A session outside UTC is
 * written through, but said once per pool: BatchSQL writes dates as UTC text, which a
 * TIMESTAMP column reads in the session's zone, so its instants would be shifted (DATETIME
 * and DATE columns are not affected).
 */
async function check(conn: mysql.PoolConnection, pool: object): Promise<void> {
  const rows = (await run(
    conn,
    `SELECT ${SESSION_COLUMNS}, @@session.time_zone AS tz, @@system_time_zone AS sys`,
  )) as (SessionSettings & { tz: unknown; sys: unknown })[]
  refuseSession(rows[0] ?? {}, conn.config.charsetNumber)
  if (!warnedPools.has(pool) && !isUtcSession(String(rows[0]?.tz), String(rows[0]?.sys))) {
    warnedPools.add(pool)
    process.emitWarning(
      'BatchSQL: a connection of your MySQL pool is not in UTC (session time_zone): dates are ' +
        'written as UTC text, which a TIMESTAMP column would read in that zone and shift; set ' +
        "time_zone = '+00:00' on the pool's connections (see the @batchsql/mysql README, " +
        '"Dates and time zones"). DATETIME and DATE columns are not affected.',
      { code: 'BATCHSQL_SESSION_TIME_ZONE' },
    )
  }
}

/**
 * One connection as Kysely sees it: errors of its statements lose their row values (`sql`
 * becomes the statement with `?` placeholders), and a connection the server is closing (a
 * fatal error, or 1153 "packet too large", after which the server hangs up) is dropped from
 * the pool at once rather than handed out again before its close arrives.
 */
class SessionConnection {
  /** Between Kysely's `begin` and its `commit` / `rollback` on this connection. */
  private inOwnTransaction = false
  constructor(private readonly raw: mysql.PoolConnection) {}
  get threadId(): number {
    return this.raw.threadId
  }
  get config(): object {
    return this.raw.config
  }
  connect(callback?: (error: unknown) => void): void {
    this.raw.connect(callback)
  }
  release(): void {
    this.raw.release()
  }
  destroy(): void {
    this.raw.destroy()
  }
  query(sql: string, parameters: unknown, callback?: Callback): unknown {
    const raw = this.raw as unknown as {
      query(sql: string, values: unknown, cb?: Callback): unknown
    }
    if (callback === undefined) return raw.query(sql, parameters)
    // Not for COMMIT / ROLLBACK, which carry no text to encode.
    const charset =
      sql === 'commit' || sql === 'rollback'
        ? undefined
        : refusedClientCharset(this.raw.config.charsetNumber)
    if (charset !== undefined) {
      queueMicrotask(() => callback(charsetError(charset)))
      return undefined
    }
    // Kysely's own transaction statements (mysql-driver: 'begin', 'commit', 'rollback').
    // BEGIN as START TRANSACTION: in MariaDB's sql_mode ORACLE a bare BEGIN opens a block
    // (1064), and every batch of several statements would fail as a syntax error.
    if (sql === 'begin') {
      this.inOwnTransaction = true
      sql = 'start transaction'
    } else if (sql === 'commit' || sql === 'rollback') this.inOwnTransaction = false
    return raw.query(sql, parameters, (err, result) => {
      if (err) {
        redactMysqlError(err, sql)
        const e = err as { fatal?: unknown; errno?: unknown }
        if (e.fatal === true || e.errno === 1153) this.raw.destroy()
      } else if (
        !this.inOwnTransaction &&
        sql !== 'commit' &&
        sql !== 'rollback' &&
        ((result as { serverStatus?: number } | null)?.serverStatus ?? 0) & SERVER_STATUS_IN_TRANS
      ) {
        this.raw.destroy()
        return callback(new ForeignTransactionError())
      }
      callback(err, result)
    })
  }
}

/**
 * The pool Kysely is given: `pool`, each connection prepared (set up if `owned`, then checked)
 * before its first use (an owned pool with `resetOnRelease`: before every use). A connection
 * whose preparation fails is released, not used: the next batch that takes it tries again.
 */
export function sessionPool(pool: mysql.Pool, options: SessionOptions): MysqlPool {
  const ready = new WeakMap<mysql.PoolConnection, SessionConnection>()
  // A pool made with `resetOnRelease` resets each session when it is released (to the
  // server's defaults): BatchSQL's own then sets its sessions up at every use.
  const config = (pool as unknown as { config?: { resetOnRelease?: unknown } }).config
  const everyUse = options.owned && config?.resetOnRelease === true
  const prepare = async (raw: mysql.PoolConnection) => {
    if (options.owned) await setUp(raw, options.timeoutMs)
    await check(raw, pool)
  }
  return {
    getConnection(callback) {
      pool.getConnection((err, raw) => {
        if (err) return callback(err, undefined as unknown as MysqlPoolConnection)
        const known = ready.get(raw)
        if (known && !everyUse) return callback(null, known as unknown as MysqlPoolConnection)
        prepare(raw).then(
          () => {
            const conn = known ?? new SessionConnection(raw)
            ready.set(raw, conn)
            callback(null, conn as unknown as MysqlPoolConnection)
          },
          (e: unknown) => {
            redactMysqlError(e)
            raw.release()
            callback(e, undefined as unknown as MysqlPoolConnection)
          },
        )
      })
    },
    end(callback) {
      pool.end(callback)
    },
  }
}
