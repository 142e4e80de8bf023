/**
 * Reading a table back from real databases, as the verifier does after a scenario: what is
 * stored beyond the rows the run wrote must be counted, however it is stored, and cheaply.
 * Each test uses a table (Redis: key prefix) of its own, so it runs beside other runs of the
 * app on the same servers.
 */
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { Redis } from 'ioredis'
import mysqlPromise from 'mysql2/promise'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import type { Backend } from '../src/backends/backend.js'
import { openMysql } from '../src/backends/mysql.js'
import { openPostgres } from '../src/backends/postgres.js'
import { openRedis } from '../src/backends/redis.js'
import { openSqlite } from '../src/backends/sqlite.js'
import { type AppRow, canonicalLine, makeRow } from '../src/rows.js'
import { intact, verify } from '../src/verify.js'
import { tempDir } from './helpers.js'

const PG = process.env.POSTGRES_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/test'
const MYSQL = process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test'
const REDIS = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0'

const unique = () => `batchsql_test_${process.pid}_${randomBytes(4).toString('hex')}`
/** A row of the app's shape (its date kept within what every database stores). */
const row = (id: number): AppRow => ({ ...makeRow(id % 1_000_000, 0, id % 1000), id })
const digest = async (r: AppRow) => {
  const { createHash } = await import('node:crypto')
  return BigInt(`0x${createHash('sha256').update(canonicalLine(r)).digest('hex').slice(0, 32)}`)
}
const expecting = async (ids: number[]) =>
  new Map(await Promise.all(ids.map(async (id) => [String(id), await digest(row(id))] as const)))

/** Writes `ids` (in order, an id twice if listed twice) as the app does: through a pipeline. */
async function write(backend: Backend, table: string, ids: number[], keyless = false) {
  const schema = backend.schema(table, 'insert', { keyless })
  const pipeline = backend.pipeline({ flushSize: 100, bufferSize: 1000, flushInterval: 5 })
  await Promise.all(
    ids.map((id) => pipeline.submitAndWait(schema, backend.toSubmit(table, row(id)))),
  )
  await pipeline.close()
}

const FAR = 1_000_000_000_000

const opened: Backend[] = []
afterAll(async () => {
  for (const b of opened) await b.close()
})

describe.each([
  ['postgres', () => openPostgres(PG, 5000)],
  ['mysql', () => openMysql(MYSQL, 5000)],
  ['sqlite', () => openSqlite(join(tempDir('read-back'), 'app.sqlite'))],
])('reading back from %s', (_name, open) => {
  it('a stray row with a far-off id (10^12) costs one page, not one per 10,000 ids up to it', {
    timeout: 20_000,
  }, async () => {
    const backend = await open()
    opened.push(backend)
    const table = unique()
    await backend.createTable(table)
    try {
      await write(backend, table, [1, 2, 3, 4, 5, FAR])
      const v = await verify(await expecting([1, 2, 3, 4, 5]), backend, table)
      expect(v).toMatchObject({ matchingRows: 5, unexpectedRows: 1, foundRows: 6 })
      expect(intact(v)).toBe(false)
    } finally {
      await backend.dropTable(table)
    }
  })

  it('still sees every copy of an id stored twice, next to page boundaries and far off', {
    timeout: 20_000,
  }, async () => {
    const backend = await open()
    opened.push(backend)
    const table = unique()
    await backend.createTable(table, { keyless: true })
    try {
      // Pages start at the next id there is: [1, 10,001), [10,001, 20,001), [20,001, …), [FAR, …).
      const ids = [1, 10_000, 10_000, 10_001, 20_000, 20_001, 20_001, FAR, FAR]
      await write(backend, table, ids, true)
      const v = await verify(
        await expecting([1, 10_000, 10_001, 20_000, 20_001, FAR]),
        backend,
        table,
      )
      expect(v).toMatchObject({ matchingRows: 6, duplicateRows: 3, foundRows: 9, missingRows: 0 })
    } finally {
      await backend.dropTable(table)
    }
  })
})

/** Rows with the given ids (text: past 2^53), inserted with the database's own client. */
const insertIds: Record<string, (backend: Backend, table: string, ids: string[]) => Promise<void>> =
  {
    async postgres(_b, table, ids) {
      const c = new pg.Client(PG)
      await c.connect()
      try {
        for (const id of ids)
          await c.query(`INSERT INTO "${table}" (id, payload) VALUES ($1, 'x')`, [id])
      } finally {
        await c.end()
      }
    },
    async mysql(_b, table, ids) {
      const c = await mysqlPromise.createConnection(MYSQL)
      try {
        for (const id of ids)
          await c.query(`INSERT INTO \`${table}\` (id, payload) VALUES (?, 'x')`, [id])
      } finally {
        await c.end()
      }
    },
    async sqlite(b, table, ids) {
      const db = new Database(b.file!)
      try {
        for (const id of ids)
          db.prepare(`INSERT INTO "${table}" (id, payload) VALUES (?, 'x')`).run(BigInt(id))
      } finally {
        db.close()
      }
    },
  }

const TOP = '9223372036854775807'
const BOTTOM = '-9223372036854775808'

describe.each([
  ['postgres', () => openPostgres(PG, 5000)],
  ['mysql', () => openMysql(MYSQL, 5000)],
  ['sqlite', () => openSqlite(join(tempDir('read-back'), 'app.sqlite'))],
])('reading back ids at the ends of BIGINT from %s', (name, open) => {
  it.each([
    ['a table with a key', false, [BOTTOM, '1', '2', TOP]],
    ['a keyless table, the top id twice', true, [BOTTOM, '1', '2', TOP, TOP]],
  ])(
    '%s reads back exactly its rows (the last page ends at 2^63 - 1)',
    {
      timeout: 10_000,
    },
    async (_what, keyless, ids) => {
      const backend = await open()
      opened.push(backend)
      const table = unique()
      await backend.createTable(table, { keyless })
      try {
        await insertIds[name]!(backend, table, ids)
        const read: string[] = []
        await backend.readBack(table, (line) => read.push(line.slice(0, line.indexOf('|'))))
        expect(read.sort()).toEqual([...ids].sort())
      } finally {
        await backend.dropTable(table)
      }
    },
  )
})

describe('reading back from Redis', () => {
  it('counts whatever else is stored under the table’s prefix; skips only the poison keys', async () => {
    const backend = await openRedis(REDIS, 5000)
    opened.push(backend)
    const raw = new Redis(REDIS)
    const table = unique()
    await backend.createTable(table)
    try {
      await write(backend, table, [1, 2, 3, 4, 5])
      // Row 6 is a poison row: its key holds a string on purpose.
      await backend.preparePoison?.(table, [6])
      const want = await expecting([1, 2, 3, 4, 5])
      const clean = await verify(want, backend, table)
      expect(clean).toMatchObject({ matchingRows: 5, unexpectedRows: 0, wrongRows: 0 })
      expect(intact(clean)).toBe(true)
      // Data the run did not write: a string, a hash without the field `row`, a list (where
      // the table holds hashes), and an extra field beside `row` on a good row.
      await raw.set(`${table}:99999999`, 'junk')
      await raw.hset(`${table}:99999998`, 'other', 'x')
      await raw.rpush(`${table}:99999997`, '1|2|3')
      await raw.hset(`${table}:5`, 'extra', 'y')
      const v = await verify(want, backend, table)
      expect(v).toMatchObject({ matchingRows: 4, unexpectedRows: 3, wrongRows: 1, missingRows: 0 })
      expect(intact(v)).toBe(false)
    } finally {
      await backend.dropTable(table)
      raw.disconnect()
    }
  })

  it('counts a key that is not a list in a keyless table', async () => {
    const backend = await openRedis(REDIS, 5000)
    opened.push(backend)
    const raw = new Redis(REDIS)
    const table = unique()
    await backend.createTable(table, { keyless: true })
    try {
      await write(backend, table, [1, 2, 2], true)
      await raw.set(`${table}:77`, 'junk')
      await raw.hset(`${table}:78`, 'row', 'x')
      const v = await verify(await expecting([1, 2]), backend, table)
      expect(v).toMatchObject({ matchingRows: 2, duplicateRows: 1, unexpectedRows: 2 })
    } finally {
      await backend.dropTable(table)
      raw.disconnect()
    }
  })
})
