import { createRequire } from 'node:module'
import { BatchSQLError, checkedOptions } from '@batchsql/core'
import {
  createKyselyBatchSQL,
  isKysely,
  type SqlBatchSQL,
  type SqlBatchSQLConfig,
} from '@batchsql/kysely'
import BetterSqlite3, { type Database } from 'better-sqlite3'
import { Kysely, SqliteDialect } from 'kysely'
import { SqliteAdapter } from './adapter.js'
import { type AttachedDatabase, journalModePragma, refuseJournalModes } from './journal-mode.js'

export interface SqliteBatchSQLConfig extends SqlBatchSQLConfig {
  /** Rows per INSERT statement. Default 500. */
  rowsPerStatement?: number | undefined
  /**
   * Let consecutive batches share one commit: up to `concurrency` batches (default 8 with
   * group commit, else 1) run in one transaction, each in its own savepoint, and every one is
   * acknowledged when it commits; nothing waits for rows that have not arrived. Default off:
   * while rows keep coming BatchSQL then holds the database's write lock almost all the time,
   * so other connections writing to the file wait, and may time out (the integration app's
   * fault scenario could not take the lock for 5 s); and BatchSQL must be the only writer on
   * its own connection (a write of yours would join its open transaction). Worth it for a
   * single writer whose commits are expensive (`synchronous = FULL`, a slow disk). Not
   * available with a Kysely target.
   */
  groupCommit?: boolean | undefined
}

/** Batches in flight, and so sharing at most one commit, when group commit is on. */
const GROUP_COMMIT_CONCURRENCY = 8

/** What BatchSQL can write to: a file name (`:memory:` too), a better-sqlite3 database, or a Kysely instance. */
export type SqliteTarget<DB> = string | Database | Kysely<DB>

/**
 * Why a Node too old for the driver cannot use it: better-sqlite3 13's prebuilt binary is
 * built for Node-API 10 (Node >= 22.14), and on Node-API 9 (Node 22.0-22.13) it ends the
 * process with a segmentation fault when a database is opened: nothing to catch (QA on Node
 * 22.12.0). Undefined when the pair works, or the driver's version is unknown.
 */
export function nodeApiRefusal(napi: number, major: number | undefined): string | undefined {
  if (major === undefined || major < 13 || !(napi < 10)) return undefined
  return `better-sqlite3 ${major} needs Node-API 10 (Node >= 22.14), this Node has ${napi}: opening a database would crash the process; upgrade Node, or use better-sqlite3 12`
}

function driverMajor(): number | undefined {
  try {
    const { version } = createRequire(import.meta.url)('better-sqlite3/package.json') as {
      version: string
    }
    return Number.parseInt(version, 10)
  } catch {
    return undefined
  }
}

/**
 * Opens the file BatchSQL owns. better-sqlite3 refuses a file it cannot open (its directory
 * missing, a directory, no permission) with a bare TypeError or SqliteError: wrapped, the
 * driver's error as `cause`. The file name is configuration, not row data: it is named.
 */
function open(file: string): Database {
  const refusal = nodeApiRefusal(Number(process.versions.napi), driverMajor())
  if (refusal !== undefined) throw new BatchSQLError('BATCHSQL_INVALID_CONFIG', refusal)
  try {
    return new BetterSqlite3(file)
  } catch (err) {
    throw new BatchSQLError(
      'BATCHSQL_INVALID_CONFIG',
      `createSqliteBatchSQL cannot open the database file ${JSON.stringify(file)}: ${
        err instanceof Error ? err.message : String(err)
      }`,
      { cause: err },
    )
  }
}

/**
 * The settings of a file BatchSQL opens. better-sqlite3 opens a file it may only read (no
 * write permission, a read-only directory) or one that is no database without complaint; the
 * first pragma then fails: refused like a file it cannot open, naming it. The busy timeout
 * comes first, so that switching to WAL waits for another process's lock as a batch would.
 */
function setUp(database: Database, file: string): void {
  try {
    database.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`)
    toWal(database)
    database.pragma('synchronous = NORMAL')
  } catch (err) {
    const code = (err as { code?: unknown }).code
    // Still locked after 5 s: not a bad setting, the driver's error as it is.
    if (
      typeof code === 'string' &&
      (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'))
    )
      throw err
    throw new BatchSQLError(
      'BATCHSQL_INVALID_CONFIG',
      `createSqliteBatchSQL cannot set up the database file ${JSON.stringify(file)}: ${
        err instanceof Error ? err.message : String(err)
      }`,
      { cause: err },
    )
  }
}

/**
 * The journal modes of a `Database` of yours (`refuseJournalModes`). A mode that cannot even
 * be read (a WAL file in a directory this process may not write: SQLITE_READONLY_DIRECTORY)
 * is refused as a file BatchSQL opens is, typed, the driver's error as the cause.
 */
function checkJournalModes(database: Database): void {
  try {
    refuseJournalModes(database.pragma('database_list') as AttachedDatabase[], (schema) =>
      database.prepare(journalModePragma(schema)).pluck().get(),
    )
  } catch (err) {
    if (err instanceof BatchSQLError) throw err
    throw new BatchSQLError(
      'BATCHSQL_INVALID_CONFIG',
      `createSqliteBatchSQL cannot read the journal mode of the Database given: ${
        err instanceof Error ? err.message : String(err)
      }`,
      { cause: err },
    )
  }
}

const BUSY_TIMEOUT_MS = 5000

/**
 * `journal_mode = WAL`, waiting up to the busy timeout for another process's write lock. The
 * switch reads, then needs the write lock, and SQLite does not call its busy handler for that
 * upgrade while another connection holds RESERVED (it would deadlock two such upgraders), so
 * the driver's timeout never applied: a file in rollback mode that another process was
 * writing failed construction at once with SQLITE_BUSY (QA). Retried here, sleeping 20 ms
 * between tries, blocking as the busy handler itself would.
 */
function toWal(database: Database): void {
  const deadline = performance.now() + BUSY_TIMEOUT_MS
  for (;;) {
    try {
      database.pragma('journal_mode = WAL')
      return
    } catch (err) {
      const code = (err as { code?: unknown }).code
      if (typeof code !== 'string' || !code.startsWith('SQLITE_BUSY')) throw err
      if (performance.now() >= deadline) throw err
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20)
    }
  }
}

/**
 * A BatchSQL pipeline writing to SQLite. With a file name BatchSQL opens the database (WAL,
 * synchronous=NORMAL, 5 s busy timeout) and closes it on `close()`; a `Database` or `Kysely`
 * you pass stays yours and open. SQLite has one writer: batches run one at a time, and with
 * group commit (`groupCommit`) up to `concurrency` of them share one commit.
 */
export function createSqliteBatchSQL<DB = any>(
  target: SqliteTarget<DB>,
  config: SqliteBatchSQLConfig = {},
): SqlBatchSQL<DB> {
  checkedOptions(config, 'createSqliteBatchSQL()')
  const { rowsPerStatement, groupCommit, ...rest } = config
  if (groupCommit !== undefined && typeof groupCommit !== 'boolean')
    throw new BatchSQLError('BATCHSQL_INVALID_CONFIG', 'groupCommit must be true or false')
  if (isKysely(target)) {
    if (groupCommit === true)
      throw new BatchSQLError(
        'BATCHSQL_INVALID_CONFIG',
        'groupCommit needs the better-sqlite3 Database (or a file name), not a Kysely instance',
      )
    const pipelineConfig = { ...rest, concurrency: rest.concurrency ?? 1 }
    return createKyselyBatchSQL(target, new SqliteAdapter({ rowsPerStatement }), pipelineConfig)
  }
  const owns = typeof target === 'string'
  if (!owns && typeof (target as Partial<Database> | null)?.prepare !== 'function')
    throw new BatchSQLError(
      'BATCHSQL_INVALID_CONFIG',
      'createSqliteBatchSQL needs a file name, a better-sqlite3 Database or a Kysely instance',
    )
  const grouped = groupCommit ?? false
  const concurrency = rest.concurrency ?? (grouped ? GROUP_COMMIT_CONCURRENCY : 1)
  const pipelineConfig = { ...rest, concurrency }
  const database = owns ? open(target) : (target as Database)
  try {
    if (owns) setUp(database, target)
    else checkJournalModes(database)
    const db = new Kysely<DB>({ dialect: new SqliteDialect({ database }) })
    const adapter = new SqliteAdapter({
      database,
      rowsPerStatement,
      groupCommit: grouped ? concurrency : 0,
    })
    // Kysely's destroy() (closes the database if Kysely used it), then the database itself:
    // the adapter writes through its own prepared statements, which Kysely never sees.
    const release = owns
      ? async () => {
          await db.destroy()
          if (database.open) database.close()
        }
      : false
    return createKyselyBatchSQL(db, adapter, pipelineConfig, release)
  } catch (err) {
    // A bad config (or pragma) throws after the file was opened: close what BatchSQL opened.
    if (owns) database.close()
    throw err
  }
}
