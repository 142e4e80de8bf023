import { defineSchema } from '@batchsql/core'
import { createMysqlBatchSQL } from '@batchsql/mysql'
import mysql from 'mysql2'
import mysqlPromise from 'mysql2/promise'
import type { AppRow } from '../rows.js'
import type { Backend, PipelineOptions, Strategy } from './backend.js'
import { lineFromDb, SQL_COLUMNS } from './sql-rows.js'

const q = (id: string) => `\`${id.replaceAll('`', '``')}\``

export async function openMysql(url: string): Promise<Backend> {
  // Values read back exactly: big numbers and dates as strings (DATETIME holds UTC here).
  const reader = mysqlPromise.createPool({
    uri: url,
    connectionLimit: 2,
    supportBigNumbers: true,
    bigNumberStrings: true,
    dateStrings: true,
  })
  await reader.query('SELECT 1')
  const threads = new Set<number>()
  const pools = new Set<mysql.Pool>()
  return {
    name: 'mysql',
    strategies: ['insert', 'update', 'replace'],
    async createTable(table) {
      await reader.query(`DROP TABLE IF EXISTS ${q(table)}`)
      await reader.query(
        `CREATE TABLE ${q(table)} (id BIGINT PRIMARY KEY, worker INT, seq INT, payload TEXT NOT NULL, amount BIGINT, score DOUBLE, created DATETIME(3)) ENGINE=InnoDB`,
      )
    },
    async dropTable(table) {
      await reader.query(`DROP TABLE IF EXISTS ${q(table)}`)
    },
    schema: (table, strategy: Strategy) =>
      defineSchema({
        table,
        columns: SQL_COLUMNS,
        strategy,
        conflictColumns: strategy === 'insert' ? undefined : ['id'],
      }),
    toSubmit: (_table, row) => row as unknown as Record<string, unknown>,
    pipeline(o: PipelineOptions) {
      const pool = mysql.createPool({ uri: url, connectionLimit: 8 })
      pool.on('connection', (conn) => threads.add(conn.threadId))
      pools.add(pool)
      const batch = createMysqlBatchSQL(pool, { ...o, concurrency: 4 })
      void batch.done.finally(() => {
        pools.delete(pool)
        pool.end(() => {})
      })
      return batch
    },
    async readBack(table, onLine) {
      let after = '-1'
      for (;;) {
        const [result] = await reader.query(
          `SELECT * FROM ${q(table)} WHERE id > ? ORDER BY id LIMIT 10000`,
          [after],
        )
        const rows = result as Record<string, unknown>[]
        for (const r of rows) onLine(lineFromDb(r))
        if (rows.length < 10_000) return
        after = String(rows[rows.length - 1]!.id)
      }
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
