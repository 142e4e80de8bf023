import { createPostgresBatchSQL } from '@batchsql/postgres'
import pg from 'pg'
import type { AppRow } from '../rows.js'
import { type Backend, type PipelineOptions, STRATEGIES } from './backend.js'
import { connectWithin, hostOf } from './connect-deadline.js'
import {
  heldBySession,
  inUse,
  type LockLog,
  type LockSession,
  RUN_LOCK_NAME,
  type RunLock,
} from './run-lock.js'
import { readByIdRanges, SQL_ROW_MODEL, type SqlTypes, tableColumns } from './sql-rows.js'

const TYPES: SqlTypes = {
  id: 'BIGINT',
  int: 'INT',
  text: 'TEXT',
  bigint: 'BIGINT',
  float: 'DOUBLE PRECISION',
  date: 'TIMESTAMPTZ(3)',
}

const q = (id: string) => `"${id.replaceAll('"', '""')}"`

export async function openPostgres(url: string, connectTimeoutMs: number): Promise<Backend> {
  // A server that accepts the connection and never answers must not hang the run (pg's
  // timeout covers the startup handshake too).
  const reader = new pg.Pool({
    connectionString: url,
    max: 2,
    // Ours fires first, with the same message for every database (pg's own is a backstop).
    connectionTimeoutMillis: connectTimeoutMs + 1000,
  })
  reader.on('error', () => {})
  await connectWithin(
    connectTimeoutMs,
    `PostgreSQL at ${hostOf(url)}`,
    reader.query('SELECT 1'),
    () => void reader.end().catch(() => {}),
  )
  // Server process ids of the pipelines' connections: the fault scenario terminates them.
  const pids = new Set<number>()
  const pools = new Set<pg.Pool>()
  return {
    name: 'postgres',
    strategies: STRATEGIES.postgres,
    async createTable(table, options) {
      await reader.query(`DROP TABLE IF EXISTS ${q(table)}`)
      const keyless = options?.keyless === true
      const columns = tableColumns(TYPES, keyless)
      await reader.query(`CREATE TABLE ${q(table)} (${columns})`)
      // Not unique: only for reading back by id range.
      if (keyless) await reader.query(`CREATE INDEX ON ${q(table)} (id)`)
    },
    async dropTable(table) {
      await reader.query(`DROP TABLE IF EXISTS ${q(table)}`)
    },
    ...SQL_ROW_MODEL,
    pipeline(o: PipelineOptions) {
      const pool = new pg.Pool({ connectionString: url, max: 8 })
      // A terminated idle client emits 'error' on the pool; without a listener Node exits.
      pool.on('error', () => {})
      const pidOf = (client: pg.PoolClient) =>
        (client as unknown as { processID?: number }).processID
      pool.on('connect', (client) => {
        const pid = pidOf(client)
        if (pid !== undefined) pids.add(pid)
      })
      // A connection that ended (idle timeout, error, pool.end()) leaves the list: the server
      // reuses process ids, and the fault must never terminate another session's backend.
      pool.on('remove', (client) => {
        const pid = pidOf(client)
        if (pid !== undefined) pids.delete(pid)
      })
      pools.add(pool)
      const batch = createPostgresBatchSQL(pool, {
        ...o,
        concurrency: 4,
      })
      void batch.done.finally(async () => {
        pools.delete(pool)
        await pool.end()
      })
      return batch
    },
    async readBack(table, onLine) {
      // int8 comes back as text (exact), timestamptz as Date.
      await readByIdRanges(
        async (from) =>
          (
            await reader.query(
              `SELECT min(id) AS lo FROM ${q(table)}${from === undefined ? '' : ' WHERE id >= $1'}`,
              from === undefined ? [] : [from],
            )
          ).rows[0]?.lo,
        async (from, last) =>
          (
            await reader.query(`SELECT * FROM ${q(table)} WHERE id >= $1 AND id <= $2`, [
              from,
              last,
            ])
          ).rows,
        onLine,
      )
    },
    poison: (row: AppRow) => ({ ...row, payload: null }),
    async injectFault() {
      const list = [...pids]
      const { rows } = await reader.query(
        'SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE pid = ANY($1)',
        [list],
      )
      pids.clear()
      if (Number(rows[0]?.n ?? 0) === 0) throw new Error('no pipeline connection to terminate')
      return `terminated ${rows[0]?.n ?? 0} server connection(s) of the pipeline (pg_terminate_backend)`
    },
    async close() {
      for (const p of pools) await p.end()
      await reader.end()
    },
  }
}

/**
 * Holds this run's claim on the database (see run-lock.ts): a session advisory lock, which
 * PostgreSQL scopes to the database, on a connection of its own; ending that connection
 * releases it, also when the run is killed. A connection that ends mid-run (terminated, a
 * server restart) took the lock with it: it is taken again (run-lock.ts).
 */
export async function lockPostgres(
  url: string,
  connectTimeoutMs: number,
  log: LockLog = () => {},
): Promise<RunLock> {
  const what = `PostgreSQL database ${databaseOf(url)} at ${hostOf(url)}`
  return heldBySession(what, () => takePostgresLock(url, connectTimeoutMs), log)
}

/** The database a URL names (the server's default, the user's name, when it names none). */
function databaseOf(url: string): string {
  try {
    const u = new URL(url)
    return decodeURIComponent(u.pathname.slice(1)) || decodeURIComponent(u.username) || '?'
  } catch {
    return '?'
  }
}

async function takePostgresLock(url: string, connectTimeoutMs: number): Promise<LockSession> {
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: connectTimeoutMs + 1000,
  })
  let why = 'its connection ended'
  client.on('error', (e: Error) => {
    why = `its connection failed: ${e.message}`
  })
  const end = () => client.end().catch(() => {})
  await connectWithin(connectTimeoutMs, `PostgreSQL at ${hostOf(url)}`, client.connect(), () => {
    void end()
  })
  try {
    const { rows } = await client.query(
      'SELECT pg_try_advisory_lock(hashtext($1)) AS ok, current_database() AS db',
      [RUN_LOCK_NAME],
    )
    if (rows[0]?.ok !== true)
      throw inUse(`PostgreSQL database ${rows[0]?.db ?? '?'} at ${hostOf(url)}`)
  } catch (err) {
    await end()
    throw err
  }
  return {
    end,
    // pg emits 'end' once the connection is gone, after the 'error' that says why.
    onLost: (cb) => client.once('end', () => cb(why)),
  }
}
