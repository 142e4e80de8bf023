/**
 * The COPY fast path: a batch's rows streamed with `COPY … FROM STDIN` (text format) on one
 * pooled connection, in one transaction. Plain inserts COPY straight into the table; the
 * conflict strategies COPY into a temporary staging table and then run
 * `INSERT … SELECT … ORDER BY key ON CONFLICT …`, the same conflict clause as the INSERT path,
 * so both paths leave the same rows.
 */
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { AbortedError, BatchSQLError, type ProcessContext } from '@batchsql/core'
import { lostCommit, type ShapeGroup } from '@batchsql/kysely'
import {
  DummyDriver,
  Kysely,
  // Aliased: the bundler would otherwise rename our own PostgresAdapter (published as
  // `PostgresAdapter2`) to tell the two apart.
  PostgresAdapter as KyselyPostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  sql,
} from 'kysely'
import type pg from 'pg'
import { lostInFlightPostgres } from './classify.js'
import { connectClean } from './clean-connection.js'
import { withConflictClause } from './conflict.js'
import { copyText } from './values.js'

// Builds SQL only (never connects): identifiers are quoted by Kysely's PostgreSQL compiler.
const compiler = new Kysely<any>({
  dialect: {
    createAdapter: () => new KyselyPostgresAdapter(),
    createDriver: () => new DummyDriver(),
    createIntrospector: (db) => new PostgresIntrospector(db),
    createQueryCompiler: () => new PostgresQueryCompiler(),
  },
})

/** A table name as SQL: quoted by Kysely's compiler like every other identifier (`a.b`: schema.table). */
const tableSql = (name: string) => sql`${sql.table(name)}`.compile(compiler).sql
/** Column names as a comma-separated SQL list, quoted by Kysely's compiler. */
const columnsSql = (names: readonly string[]) =>
  sql`${sql.join(names.map((c) => sql.id(c)))}`.compile(compiler).sql

/** COPY text lines of row-major `values`, `width` per row, ~64 KiB per piece. */
function* lines(values: readonly unknown[], width: number): Generator<string> {
  // Read in place (no array per row, which the rows getter would build) and joined per piece,
  // so each piece reaches the socket as one flat string.
  let pieces: string[] = []
  let length = 0
  for (let i = 0; i < values.length; ) {
    let line = copyText(values[i++])
    for (let c = 1; c < width; c++) line += `\t${copyText(values[i++])}`
    line += '\n'
    pieces.push(line)
    length += line.length
    // Hand the stream ~64 KiB at a time: fewer, larger writes.
    if (length > 65_536) {
      yield pieces.join('')
      pieces = []
      length = 0
    }
  }
  if (pieces.length > 0) yield pieces.join('')
}

type CopyFrom = typeof import('pg-copy-streams').from
let copyStreams: Promise<CopyFrom> | undefined

/**
 * pg-copy-streams' `from()`. Versions 6.0.0–6.0.4 export an object literal
 * (`module.exports = { to, from, both }`), whose names Node's CommonJS detection does not
 * all find: `from` is only on the default export there (an import of `from` gave undefined, and
 * every COPY batch failed with a TypeError); 6.0.5 and later export it by name.
 */
export function copyFromOf(mod: unknown): CopyFrom {
  const m = mod as { from?: unknown; default?: { from?: unknown } }
  const from = m.from ?? m.default?.from
  if (typeof from !== 'function')
    throw new BatchSQLError(
      'BATCHSQL_INVALID_CONFIG',
      'the COPY path needs pg-copy-streams 6 or 7: the installed package has no from()',
    )
  return from as CopyFrom
}

/**
 * pg-copy-streams, loaded on the first COPY: it is an optional peer, needed only by users of
 * the COPY path, so importing this package must work without it.
 */
function loadCopyStreams(): Promise<CopyFrom> {
  copyStreams ??= import('pg-copy-streams').then(copyFromOf, (cause: unknown) => {
    copyStreams = undefined
    throw new BatchSQLError(
      'BATCHSQL_INVALID_CONFIG',
      'the COPY path needs the pg-copy-streams package: add it to your dependencies (npm install pg-copy-streams)',
      { cause },
    )
  })
  return copyStreams
}

/**
 * Loads pg-copy-streams now, for a pipeline that asked for COPY: a missing package then shows
 * at startup, as a process warning (`BATCHSQL_COPY_UNAVAILABLE`), rather than only at the
 * first batch (which still fails, final, with `BATCHSQL_INVALID_CONFIG`). Not a construction
 * error: loading is asynchronous, and resolving the name synchronously fails in a bundle that
 * holds the package without a node_modules to find it in.
 */
export function preloadCopyStreams(): void {
  loadCopyStreams().catch((err: Error) => {
    process.emitWarning(`BatchSQL: ${err.message}; COPY batches will fail`, {
      code: 'BATCHSQL_COPY_UNAVAILABLE',
    })
  })
}

/**
 * `lines()`, calling `done` once the last piece has been taken (the COPY's end is next), and
 * letting the event loop turn every `PIECES_PER_TURN` pieces: pg-copy-streams waits only when
 * the socket's buffer is full, which on a fast link it never is, so a large batch was built
 * and written in one go (QA: 300,000 rows of 200 characters held timers, `timeoutMs` and the
 * application's own I/O for 2.7 s; the INSERT path 0.65 s).
 */
export async function* announceEnd(
  pieces: Iterable<string>,
  done: () => void,
): AsyncGenerator<string> {
  let n = 0
  for (const piece of pieces) {
    yield piece
    if (++n % PIECES_PER_TURN === 0) await new Promise((turn) => setImmediate(turn))
  }
  done()
}

/** ~1 MiB of COPY text between two turns of the event loop (`announceEnd`). */
export const PIECES_PER_TURN = 16

/**
 * Streams `values` into `table`. `allSent` runs once every row has been handed over and the
 * server had answered the COPY (before that answer pg-copy-streams holds the data back, so a
 * connection lost then never reached the server with any of it).
 */
async function copyInto(
  client: pg.PoolClient,
  table: string,
  columns: readonly string[],
  values: readonly unknown[],
  allSent: () => void = () => {},
): Promise<void> {
  const copyFrom = await loadCopyStreams()
  const stream = client.query(
    copyFrom(`COPY ${tableSql(table)} (${columnsSql(columns)}) FROM STDIN`),
  )
  // pg-copy-streams' own flag (versions 6 and 7); where it is missing, count the data as sent.
  const answered = () => (stream as { _gotCopyInResponse?: boolean })._gotCopyInResponse !== false
  let handedOver = false
  try {
    await pipeline(
      Readable.from(
        announceEnd(lines(values, columns.length), () => {
          handedOver = true
        }),
      ),
      stream,
    )
  } finally {
    if (handedOver && answered()) allSent()
  }
}

/** What decides whether a plain-insert batch of a table may be COPied (`copyTableInfo`). */
export interface CopyTableInfo {
  /**
   * Its `GENERATED ALWAYS AS IDENTITY` columns. COPY writes a value given for one as it is (as
   * `OVERRIDING SYSTEM VALUE` would, leaving the sequence behind), where INSERT refuses it
   * (428C9): a plain-insert batch that sets one takes the INSERT path, so both paths write the
   * same rows.
   */
  readonly alwaysIdentity: ReadonlySet<string>
  /**
   * Row-level security is enabled: `COPY FROM` into the table is refused (0A000) for a role
   * the policies apply to, where INSERT checks each row against them; its plain inserts take
   * the INSERT path. (Upserts COPY into a staging table and end in INSERT … SELECT.)
   */
  readonly rowSecurity: boolean
}

/**
 * `table`'s `CopyTableInfo`. Read again once the last reading is `TABLE_INFO_TTL_MS` old: a
 * table migrated to an identity column or to row-level security (or dropped and created
 * again) while the pipeline runs is seen within that time, at the price of one catalog query
 * per table and second (checking before every COPY would cost a round trip per batch; a table
 * not found is read next time).
 */
export async function copyTableInfo(
  pool: pg.Pool,
  table: string,
  cache: TableInfoCache,
): Promise<CopyTableInfo> {
  const known = cache.get(table)
  if (known !== undefined && performance.now() - known.at < TABLE_INFO_TTL_MS) return known.info
  // A clean client as every batch takes (not one left inside a transaction of yours, failed
  // or not), rather than pool.query(), which pg 8 warns about (a deprecation) when it runs the
  // query from inside a new connection's ready handler. One whose session ended is destroyed
  // on release (connectClean).
  const client = await connectClean(pool)
  let rows: { found: boolean; columns: string[]; rls: boolean | null }[]
  try {
    ;({ rows } = await client.query(
      `SELECT c.oid IS NOT NULL AS found,
            coalesce(array_agg(a.attname::text) FILTER (WHERE a.attidentity = 'a'), '{}') AS columns,
            (SELECT relrowsecurity FROM pg_class WHERE oid = c.oid) AS rls
       FROM (SELECT to_regclass($1) AS oid) c
       LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      GROUP BY c.oid`,
      [tableSql(table)],
    ))
  } finally {
    client.release()
  }
  const info = {
    alwaysIdentity: new Set(rows[0]?.columns ?? []),
    rowSecurity: rows[0]?.rls === true,
  }
  if (rows[0]?.found) cache.set(table, { info, at: performance.now() })
  else cache.delete(table)
  return info
}

/** How long a table's `CopyTableInfo` is taken as read (see `copyTableInfo`). */
export const TABLE_INFO_TTL_MS = 1_000

/** Per table, its `CopyTableInfo` and when it was read. */
export type TableInfoCache = Map<string, { readonly info: CopyTableInfo; readonly at: number }>

export async function copyBatch(
  pool: pg.Pool,
  groups: readonly ShapeGroup[],
  ctx: ProcessContext,
): Promise<void> {
  const client = await connectClean(pool)
  let broken: Error | undefined
  // One COPY into the table is atomic by itself: no transaction round trips for it.
  const single = groups.length === 1 && groups[0]!.shape.schema.strategy === 'insert'
  // Whether the statement in flight may have committed (see `lostCommit`): a lone COPY only
  // once all its data is out (the server commits nothing before the end of the data).
  let committing = false
  try {
    if (!single) await client.query('BEGIN')
    for (let i = 0; i < groups.length; i++) {
      if (ctx.signal.aborted)
        throw new AbortedError('batch aborted before commit', ctx.signal.reason)
      const { shape, values } = groups[i]!
      const { schema } = shape
      if (schema.strategy === 'insert') {
        await copyInto(client, schema.table, shape.columns, values, () => {
          if (single) committing = true
        })
        continue
      }
      const staging = `batchsql_copy_${i}`
      // The batch's columns only, without constraints: `LIKE` copied every NOT NULL, also of a
      // column the rows leave to the table (an identity, a generated column, one a trigger
      // fills), so every row failed in the staging table where INSERT writes it; and defaults
      // are the table's business, in the INSERT … SELECT below (evaluated in staging, a serial's
      // burned sequence values).
      await client.query(
        `CREATE TEMP TABLE ${tableSql(staging)} ON COMMIT DROP AS SELECT ${columnsSql(shape.columns)} FROM ${tableSql(schema.table)} WITH NO DATA`,
      )
      await copyInto(client, staging, shape.columns, values)
      let select = compiler.selectFrom(staging).select(shape.columns.map((c) => sql.id(c).as(c)))
      // Key order: concurrent batches lock rows in the same order (fewer deadlocks). Then the
      // staging table's own order (one COPY into a new table: `ctid` is the batch's order),
      // because PostgreSQL's sort is not stable: rows it finds equal (a key repeated under
      // `dedupe: 'none'`, keys a collation or citext equates) would otherwise come out in any
      // order, and `ignore` would keep another row than the INSERT path does.
      // (Only conflict columns the rows set: the staging table holds no other, and a row may
      // leave one unset, a nullable part of a composite key; ordering by it failed every row
      // of the batch with 42703, QA 2026-11-29.)
      for (const c of schema.conflictColumns)
        if (shape.columns.includes(c)) select = select.orderBy(sql.id(c))
      select = select.orderBy(sql`ctid`)
      const insert = withConflictClause(
        compiler
          .insertInto(schema.table)
          .columns(shape.columns as never)
          .expression(select as never),
        shape,
      )
      const { sql: text, parameters } = insert.compile()
      await client.query(text, parameters as unknown[])
    }
    committing = true
    if (!single) await client.query('COMMIT')
  } catch (err) {
    if (!single) {
      await client.query('ROLLBACK').catch((e: Error) => {
        broken = e
      })
    }
    throw committing ? lostCommit(err, groups, ctx.attempt, lostInFlightPostgres) : err
  } finally {
    // A connection whose ROLLBACK failed is in an unknown state: destroy it.
    client.release(broken)
  }
}
