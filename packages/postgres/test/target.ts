import { type ConformanceTarget, waitOnRowLock } from '@batchsql/conformance'
import { Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import { type CopyMode, createPostgresBatchSQL, POSTGRES_MAX_PARAMETERS } from '../src/index.js'

export const POSTGRES_URL = process.env.POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const q = (id: string) => `"${id.replaceAll('"', '""')}"`

export function postgresTarget(copy: CopyMode): ConformanceTarget {
  const bare = new pg.Pool({ connectionString: POSTGRES_URL, max: 4 })
  return {
    dialect: 'postgres',
    createBatchSQL: (config) => createPostgresBatchSQL(POSTGRES_URL, { ...config, copy }),
    // The INSERT path: COPY writes past a Kysely instance's plugins, and is refused beside them.
    createBatchSQLOnKysely(plugins, config) {
      const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 2 })
      const kysely = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }), plugins })
      return { batch: createPostgresBatchSQL(kysely, config), destroy: () => kysely.destroy() }
    },
    network: {
      host: new URL(POSTGRES_URL).hostname,
      port: Number(new URL(POSTGRES_URL).port || 5432),
      createBatchSQL(port, config) {
        const url = new URL(POSTGRES_URL)
        url.hostname = '127.0.0.1'
        url.port = String(port)
        return createPostgresBatchSQL(url.href, { ...config, copy })
      },
    },
    async exec(sql) {
      await bare.query(sql)
    },
    async query(sql) {
      return (await bare.query(sql)).rows
    },
    quote: q,
    types: {
      int: 'INTEGER',
      bigint: 'BIGINT',
      float: 'DOUBLE PRECISION',
      decimal: 'NUMERIC(30,4)',
      string: 'VARCHAR(255)',
      text: 'TEXT',
      boolean: 'BOOLEAN',
      date: 'TIMESTAMPTZ(3)',
      bytes: 'BYTEA',
      json: 'JSONB',
    },
    maxParameters: POSTGRES_MAX_PARAMETERS,
    // provokeDeadlock: the suite's own, crossRowLocks() on two session()s.
    provokeLockTimeout(table) {
      return waitOnRowLock(this, table, {
        set: "SET lock_timeout = '200ms'",
        reset: 'RESET lock_timeout',
      })
    },
    async session() {
      const c = await bare.connect()
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
