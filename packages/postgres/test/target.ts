import type { ConformanceTarget } from '@batchsql/conformance'
import pg from 'pg'
import { type CopyMode, createPostgresBatchSQL, POSTGRES_MAX_PARAMETERS } from '../src/index.js'

export const POSTGRES_URL = process.env.POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const q = (id: string) => `"${id.replaceAll('"', '""')}"`
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Two bare-driver transactions cross row locks; returns the error of the deadlock's victim. */
async function provokeDeadlock(pool: pg.Pool, table: string): Promise<unknown> {
  const a = await pool.connect()
  const b = await pool.connect()
  try {
    await a.query('BEGIN')
    await b.query('BEGIN')
    await a.query(`UPDATE ${q(table)} SET n = n + 1 WHERE id = 1`)
    await b.query(`UPDATE ${q(table)} SET n = n + 1 WHERE id = 2`)
    const pa = a.query(`UPDATE ${q(table)} SET n = n + 1 WHERE id = 2`).then(
      () => undefined,
      (e: unknown) => e,
    )
    await sleep(50)
    const pb = b.query(`UPDATE ${q(table)} SET n = n + 1 WHERE id = 1`).then(
      () => undefined,
      (e: unknown) => e,
    )
    const [ea, eb] = await Promise.all([pa, pb])
    return ea ?? eb
  } finally {
    await a.query('ROLLBACK').catch(() => {})
    await b.query('ROLLBACK').catch(() => {})
    a.release()
    b.release()
  }
}

async function provokeLockTimeout(pool: pg.Pool, table: string): Promise<unknown> {
  const a = await pool.connect()
  const b = await pool.connect()
  try {
    await a.query('BEGIN')
    await a.query(`UPDATE ${q(table)} SET n = n + 1 WHERE id = 1`)
    await b.query(`SET lock_timeout = '200ms'`)
    return await b.query(`UPDATE ${q(table)} SET n = n + 1 WHERE id = 1`).then(
      () => undefined,
      (e: unknown) => e,
    )
  } finally {
    await a.query('ROLLBACK').catch(() => {})
    await b.query('RESET lock_timeout').catch(() => {})
    a.release()
    b.release()
  }
}

export function postgresTarget(copy: CopyMode): ConformanceTarget {
  const bare = new pg.Pool({ connectionString: POSTGRES_URL, max: 4 })
  return {
    dialect: 'postgres',
    createBatchSQL: (config) => createPostgresBatchSQL(POSTGRES_URL, { ...config, copy }),
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
    provokeDeadlock: (table) => provokeDeadlock(bare, table),
    provokeLockTimeout: (table) => provokeLockTimeout(bare, table),
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
