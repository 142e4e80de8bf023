import { createMysqlBatchSQL } from '@batchsql/mysql'
import mysql from 'mysql2'
import mysqlPromise from 'mysql2/promise'
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
  float: 'DOUBLE',
  date: 'DATETIME(3)',
}

const q = (id: string) => `\`${id.replaceAll('`', '``')}\``

export async function openMysql(url: string, connectTimeoutMs: number): Promise<Backend> {
  // Values read back exactly: big numbers and dates as strings (DATETIME holds UTC here).
  const reader = mysqlPromise.createPool({
    uri: url,
    connectionLimit: 2,
    // The handshake included: a server that accepts the connection and never answers fails
    // (a backstop: ours below fires first, with the same message for every database).
    connectTimeout: connectTimeoutMs + 1000,
    supportBigNumbers: true,
    bigNumberStrings: true,
    dateStrings: true,
  })
  await connectWithin(
    connectTimeoutMs,
    `MariaDB/MySQL at ${hostOf(url)}`,
    reader.query('SELECT 1'),
    () => void reader.end().catch(() => {}),
  )
  const threads = new Set<number>()
  const pools = new Set<mysql.Pool>()
  return {
    name: 'mysql',
    strategies: STRATEGIES.mysql,
    async createTable(table, options) {
      await reader.query(`DROP TABLE IF EXISTS ${q(table)}`)
      const keyless = options?.keyless === true
      const columns = tableColumns(TYPES, keyless)
      // Keyless: a plain index on id (not unique), only for reading back by id range.
      const index = keyless ? ', INDEX (id)' : ''
      await reader.query(`CREATE TABLE ${q(table)} (${columns}${index}) ENGINE=InnoDB`)
    },
    async dropTable(table) {
      await reader.query(`DROP TABLE IF EXISTS ${q(table)}`)
    },
    ...SQL_ROW_MODEL,
    pipeline(o: PipelineOptions) {
      const pool = mysql.createPool({ uri: url, connectionLimit: 8 })
      pool.on('connection', (conn) => threads.add(conn.threadId))
      pools.add(pool)
      const batch = createMysqlBatchSQL(pool, {
        ...o,
        concurrency: 4,
      })
      void batch.done.finally(() => {
        pools.delete(pool)
        pool.end(() => {})
      })
      return batch
    },
    async readBack(table, onLine) {
      type Rows = Record<string, unknown>[]
      await readByIdRanges(
        async (from) => {
          const [r] = await reader.query(
            `SELECT min(id) AS lo FROM ${q(table)}${from === undefined ? '' : ' WHERE id >= ?'}`,
            from === undefined ? [] : [from],
          )
          return (r as Rows)[0]?.lo
        },
        async (from, last) => {
          const [r] = await reader.query(`SELECT * FROM ${q(table)} WHERE id >= ? AND id <= ?`, [
            from,
            last,
          ])
          return r as Rows
        },
        onLine,
      )
    },
    poison: (row: AppRow) => ({ ...row, payload: null }),
    async injectFault() {
      let killed = 0
      for (const id of threads) {
        try {
          await reader.query(`KILL CONNECTION ${Number(id)}`)
          killed++
        } catch {
          // Already gone.
        }
      }
      threads.clear()
      if (killed === 0) throw new Error('no pipeline connection to kill')
      return `killed ${killed} server connection(s) of the pipeline (KILL CONNECTION)`
    },
    async close() {
      for (const p of pools) await new Promise<void>((r) => p.end(() => r()))
      await reader.end()
    },
  }
}

/**
 * Holds this run's claim on the database (see run-lock.ts): a named lock, which is
 * server-wide, so named after the database (hashed: a name holds at most 64 characters), on
 * a connection of its own; ending that connection releases it, also when the run is killed.
 * A connection that ends mid-run (killed, a server restart) took the lock with it: it is
 * taken again (run-lock.ts).
 */
export async function lockMysql(
  url: string,
  connectTimeoutMs: number,
  log: LockLog = () => {},
): Promise<RunLock> {
  let db = '?'
  try {
    db = decodeURIComponent(new URL(url).pathname.slice(1)) || '(none)'
  } catch {}
  const what = `MariaDB/MySQL database ${db} at ${hostOf(url)}`
  return heldBySession(what, () => takeMysqlLock(url, connectTimeoutMs), log)
}

async function takeMysqlLock(url: string, connectTimeoutMs: number): Promise<LockSession> {
  const connecting = mysqlPromise.createConnection({
    uri: url,
    connectTimeout: connectTimeoutMs + 1000,
  })
  const conn = await connectWithin(
    connectTimeoutMs,
    `MariaDB/MySQL at ${hostOf(url)}`,
    connecting,
    () => void connecting.then((c) => c.destroy()).catch(() => {}),
  )
  let onLost: ((why: string) => void) | undefined
  let gone: string | undefined
  const lose = (why: string) => {
    if (gone !== undefined) return
    gone = why
    onLost?.(why)
  }
  // KILL and a server going away: an 'error' (its message says why) or an 'end'.
  conn.on('error', (e: Error) => lose(`its connection failed: ${e.message}`))
  conn.on('end', () => lose('its connection ended'))
  const end = () => conn.end().catch(() => conn.destroy())
  try {
    const [r] = await conn.query(
      `SELECT GET_LOCK(CONCAT(?, ':', MD5(COALESCE(DATABASE(), ''))), 0) AS ok, DATABASE() AS db`,
      [RUN_LOCK_NAME],
    )
    const row = (r as Record<string, unknown>[])[0]
    if (Number(row?.ok) !== 1)
      throw inUse(`MariaDB/MySQL database ${String(row?.db ?? '?')} at ${hostOf(url)}`)
  } catch (err) {
    await end()
    throw err
  }
  return {
    end,
    onLost: (cb) => {
      onLost = cb
      if (gone !== undefined) cb(gone)
    },
  }
}
