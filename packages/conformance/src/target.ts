/**
 * What a dialect package gives the conformance suite: a way to create pipelines on its
 * database, and the bare driver to set up tables and read back what BatchSQL wrote. The
 * suite never reads through BatchSQL or Kysely: a bug in the engine cannot hide itself.
 */
import type { SqlBatchSQL, SqlBatchSQLConfig } from '@batchsql/kysely'
import type { KyselyPlugin } from 'kysely'

/** Column types the suite declares, as DDL of the dialect. */
export interface ColumnDdl {
  /** 32-bit integer. */
  int: string
  /** 64-bit integer. */
  bigint: string
  /** Double precision. */
  float: string
  /** Exact decimal with at least 20 digits, 4 after the point. */
  decimal: string
  /** Short string usable in a key (e.g. VARCHAR(255)). */
  string: string
  /** Long text. */
  text: string
  boolean: string
  /** Timestamp with millisecond precision, in UTC / with time zone. */
  date: string
  bytes: string
  json: string
}

/** A connection of the bare driver that the suite holds (see `ConformanceTarget.session`). */
export interface BareSession {
  exec(sql: string): Promise<void>
  release(): void | Promise<void>
}

export interface ConformanceTarget {
  /** `sqlite`, `postgres`, `mysql`, ...: what the adapter reports as its `database`. */
  readonly dialect: string
  /**
   * The database runs inside the process (SQLite, or another embedded engine): no server, so
   * no deadlocks, no statement that outlives its attempt, no network to lose a reply on. Such
   * a target omits `provokeDeadlock`, `session` and `network`, and the cases that need them
   * check this flag; a server database must give all three.
   */
  readonly embedded?: boolean
  /**
   * An upsert's conflict handling fires on any unique key of the table, not only on the
   * conflict columns (MySQL's `ON DUPLICATE KEY`): a row that collides on another unique key
   * then updates (or, setting no update column, leaves) the row it collides with instead of
   * failing. Say so, and the suite expects that; otherwise such a row must fail.
   */
  readonly upsertsOnAnyUniqueKey?: boolean
  /** A new pipeline on this database; the suite closes it. */
  createBatchSQL(config?: SqlBatchSQLConfig): SqlBatchSQL
  /**
   * A pipeline through a Kysely instance of your dialect on the same database, made with
   * `plugins`, as an application passing its own instance would (`createXxxBatchSQL(kysely)`).
   * The suite closes the pipeline, then calls `destroy` (end the instance's own connections;
   * not the bare driver's).
   */
  createBatchSQLOnKysely(
    plugins: KyselyPlugin[],
    config?: SqlBatchSQLConfig,
  ): { batch: SqlBatchSQL; destroy(): Promise<void> }
  /** Bare driver: runs a statement (DDL or DML). */
  exec(sql: string): Promise<void>
  /** Bare driver: returns the rows of a query as plain objects. */
  query(sql: string): Promise<Record<string, unknown>[]>
  /** Quotes an identifier for the suite's own raw SQL. */
  quote(identifier: string): string
  readonly types: ColumnDdl
  /** Largest bind-parameter count of one statement (the suite checks chunking stays under it). */
  readonly maxParameters: number
  /**
   * Provokes a real deadlock on `table` (columns `id` int primary key, `n` int; rows 1 and 2
   * exist) with two bare-driver transactions and returns the error the victim got. Optional:
   * without it the suite runs `crossRowLocks()` on two `session()`s (BEGIN and UPDATEs of
   * those rows); give it where that SQL does not deadlock on your database. An embedded
   * database (no deadlocks) gives neither.
   */
  provokeDeadlock?(table: string): Promise<unknown>
  /**
   * Provokes a real lock wait timeout (or SQLITE_BUSY) on `table` (same shape) and returns
   * the error. On a server: `waitOnRowLock(target, table, { set, reset })` with the
   * statement that bounds a lock wait on one connection.
   */
  provokeLockTimeout(table: string): Promise<unknown>
  /**
   * One connection of the bare driver, held until released, so that statements on it share a
   * transaction: the suite holds a row lock on it as a concurrent writer would (BEGIN, INSERT,
   * and later ROLLBACK). The case using it needs `createBatchSQL` to create its own pool (from
   * a URL or pool config, not a pool of yours): only on such a pool does BatchSQL set the
   * server-side statement limits it derives from `timeoutMs`. Omit for an embedded database,
   * where no server runs a statement on after the executor has given up on it.
   */
  session?(): Promise<BareSession>
  /**
   * A network database: where its server listens, and a pipeline connecting to 127.0.0.1 on
   * another `port` instead, where the suite runs a proxy that can drop a reply in flight
   * (`ReplyCutter`). Omit for an embedded database (SQLite).
   */
  readonly network?: {
    readonly host: string
    readonly port: number
    createBatchSQL(port: number, config?: SqlBatchSQLConfig): SqlBatchSQL
  }
  /** Closes the bare driver. */
  close(): Promise<void>
}

export interface ConformanceOptions {
  /** Suite title, e.g. `postgres`. */
  name: string
  /** Called once before the suite; the target is closed after it. */
  connect(): Promise<ConformanceTarget>
  /** Rows of the large-batch test (default 100 000, with 10 columns). */
  largeBatchRows?: number
}
