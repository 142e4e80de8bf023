import { type ConformanceTarget, waitOnRowLock } from '@batchsql/conformance'
import { Kysely, MysqlDialect } from 'kysely'
import { createPool } from 'mysql2'
import mysql from 'mysql2/promise'
import { createMysqlBatchSQL, MYSQL_MAX_PARAMETERS } from '../src/index.js'

export const MYSQL_URL = process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test'
const q = (id: string) => `\`${id.replaceAll('`', '``')}\``

/** The bare driver, reading values back exactly: big numbers and dates as strings. */
export function barePool(): mysql.Pool {
  return mysql.createPool({
    uri: MYSQL_URL,
    connectionLimit: 4,
    supportBigNumbers: true,
    bigNumberStrings: true,
    dateStrings: true,
  })
}

export function mysqlTarget(): ConformanceTarget {
  const bare = barePool()
  return {
    dialect: 'mysql',
    // ON DUPLICATE KEY fires on any unique key of the table (README, strategies).
    upsertsOnAnyUniqueKey: true,
    createBatchSQL: (config) => createMysqlBatchSQL(MYSQL_URL, config),
    createBatchSQLOnKysely(plugins, config) {
      const pool = createPool({ uri: MYSQL_URL, connectionLimit: 2 })
      const kysely = new Kysely<unknown>({ dialect: new MysqlDialect({ pool }), plugins })
      return { batch: createMysqlBatchSQL(kysely, config), destroy: () => kysely.destroy() }
    },
    network: {
      host: new URL(MYSQL_URL).hostname,
      port: Number(new URL(MYSQL_URL).port || 3306),
      createBatchSQL(port, config) {
        const url = new URL(MYSQL_URL)
        url.hostname = '127.0.0.1'
        url.port = String(port)
        return createMysqlBatchSQL(url.href, config)
      },
    },
    async exec(sql) {
      await bare.query(sql)
    },
    async query(sql) {
      const [rows] = await bare.query(sql)
      return rows as Record<string, unknown>[]
    },
    quote: q,
    types: {
      int: 'INT',
      bigint: 'BIGINT',
      float: 'DOUBLE',
      decimal: 'DECIMAL(30,4)',
      string: 'VARCHAR(255)',
      text: 'TEXT',
      boolean: 'BOOLEAN',
      date: 'DATETIME(3)',
      bytes: 'LONGBLOB',
      json: 'JSON',
    },
    maxParameters: MYSQL_MAX_PARAMETERS,
    // provokeDeadlock: the suite's own, crossRowLocks() on two session()s.
    provokeLockTimeout(table) {
      return waitOnRowLock(this, table, {
        set: 'SET SESSION innodb_lock_wait_timeout = 1',
        reset: 'SET SESSION innodb_lock_wait_timeout = DEFAULT',
      })
    },
    async session() {
      const c = await bare.getConnection()
      return {
        exec: async (sql) => {
          await c.query(sql)
        },
        release: () => c.release(),
      }
    },
    close: () => bare.end(),
  }
}
