/**
 * A run lock lost mid-run (its connection killed, a server restart, the Redis key deleted) is
 * noticed: taken again at once if it is free, saying so, or reported lost for good if another
 * run took it meanwhile. The test works in databases of its own (a PostgreSQL and a MariaDB
 * database created for it, Redis database index 13), so that the locks it takes, kills and
 * takes over never touch another run of the app on the servers' usual databases (CI's).
 */
import { Redis } from 'ioredis'
import mysqlPromise from 'mysql2/promise'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { lockMysql } from '../src/backends/mysql.js'
import { lockPostgres } from '../src/backends/postgres.js'
import { lockRedis } from '../src/backends/redis.js'
import { RUN_LOCK_NAME } from '../src/backends/run-lock.js'
import { ownDatabases } from './own-databases.js'

const DB = `batchsql_lost_${process.pid}`
const own = ownDatabases(DB)
const PG = own.pg
const MYSQL = own.mysql
const REDIS = 'redis://127.0.0.1:6379/13'
const KEY = `${RUN_LOCK_NAME}:lock`

beforeAll(() => own.create())

afterAll(async () => {
  await own.drop()
  const redis = new Redis(REDIS)
  await redis.del(KEY)
  redis.disconnect()
})

/** Waits until `lines` holds a line matching `re` (the lock noticed its loss). */
async function logged(lines: string[], re: RegExp): Promise<void> {
  for (let i = 0; i < 100 && !lines.some((l) => re.test(l)); i++)
    await new Promise((r) => setTimeout(r, 50))
  expect(lines.join('\n')).toMatch(re)
}

const TAKEN_AGAIN = /was taken again \(no other run had taken it\)/
const LOST = /^the run lock on .* was lost mid-run \(.*\) and another run holds it now$/

describe('a run lock lost mid-run', () => {
  describe('PostgreSQL', () => {
    const SQL_PID = `SELECT l.pid FROM pg_locks l JOIN pg_database d ON d.oid = l.database
      WHERE l.locktype = 'advisory' AND l.granted AND d.datname = $1`
    const sql = async () => {
      const c = new pg.Client(PG)
      await c.connect()
      return c
    }

    it('its connection terminated: taken again at once, and held', async () => {
      const lines: string[] = []
      const lock = await lockPostgres(PG, 5000, (l) => lines.push(l))
      const c = await sql()
      try {
        const before = (await c.query(SQL_PID, [DB])).rows[0]?.pid
        await c.query('SELECT pg_terminate_backend($1)', [before])
        await logged(lines, TAKEN_AGAIN)
        expect(lines[0]).toMatch(/lost mid-run \(its connection failed: .*terminat/)
        expect(await lock.lost()).toBeUndefined()
        const after = (await c.query(SQL_PID, [DB])).rows[0]?.pid
        expect(after).toBeDefined()
        expect(after).not.toBe(before)
        await expect(lockPostgres(PG, 5000)).rejects.toThrow(/is in use by another run/)
      } finally {
        await lock.release()
        await c.end()
      }
    })

    it('its connection terminated while another run waits for it: lost, and said why', async () => {
      const lines: string[] = []
      const lock = await lockPostgres(PG, 5000, (l) => lines.push(l))
      const c = await sql()
      const other = await sql()
      try {
        const pid = (await c.query(SQL_PID, [DB])).rows[0]?.pid
        // The other run blocks for the lock: it has it the moment the first run's session ends.
        const waiting = other.query('SELECT pg_advisory_lock(hashtext($1))', [RUN_LOCK_NAME])
        await new Promise((r) => setTimeout(r, 200))
        await c.query('SELECT pg_terminate_backend($1)', [pid])
        await waiting
        await logged(lines, /^FAIL /m)
        expect(await lock.lost()).toMatch(LOST)
        expect(await lock.lost()).toContain(`PostgreSQL database ${DB} at 127.0.0.1:5432`)
      } finally {
        await lock.release()
        await other.end()
        await c.end()
      }
    })
  })

  describe('MariaDB', () => {
    const NAME = `CONCAT('${RUN_LOCK_NAME}:', MD5('${DB}'))`
    const sql = () => mysqlPromise.createConnection(MYSQL)
    const holder = async (c: mysqlPromise.Connection) => {
      const [r] = await c.query(`SELECT IS_USED_LOCK(${NAME}) AS id`)
      return (r as { id: number | null }[])[0]?.id
    }

    it('its connection killed: taken again at once, and held', async () => {
      const lines: string[] = []
      const lock = await lockMysql(MYSQL, 5000, (l) => lines.push(l))
      const c = await sql()
      try {
        const before = await holder(c)
        await c.query(`KILL CONNECTION ${Number(before)}`)
        await logged(lines, TAKEN_AGAIN)
        expect(await lock.lost()).toBeUndefined()
        const after = await holder(c)
        expect(after).not.toBeNull()
        expect(after).not.toBe(before)
        await expect(lockMysql(MYSQL, 5000)).rejects.toThrow(/is in use by another run/)
      } finally {
        await lock.release()
        await c.end()
      }
    })

    it('its connection killed while another run waits for it: lost, and said why', async () => {
      const lines: string[] = []
      const lock = await lockMysql(MYSQL, 5000, (l) => lines.push(l))
      const c = await sql()
      const other = await sql()
      try {
        const id = await holder(c)
        const waiting = other.query(`SELECT GET_LOCK(${NAME}, 30) AS ok`)
        await new Promise((r) => setTimeout(r, 200))
        await c.query(`KILL CONNECTION ${Number(id)}`)
        const [r] = await waiting
        expect(Number((r as { ok: number }[])[0]?.ok)).toBe(1)
        await logged(lines, /^FAIL /m)
        expect(await lock.lost()).toMatch(LOST)
        expect(await lock.lost()).toContain(`MariaDB/MySQL database ${DB} at 127.0.0.1:3306`)
      } finally {
        await lock.release()
        await other.end()
        await c.end()
      }
    })
  })

  describe('Redis', () => {
    it('its key deleted: taken again at the next check, and held', async () => {
      const lines: string[] = []
      const lock = await lockRedis(REDIS, 5000, (l) => lines.push(l))
      const raw = new Redis(REDIS)
      try {
        const token = await raw.get(KEY)
        await raw.del(KEY)
        expect(await lock.lost()).toBeUndefined()
        expect(lines.join('\n')).toMatch(TAKEN_AGAIN)
        expect(await raw.get(KEY)).toBe(token)
        expect(await raw.pttl(KEY)).toBeGreaterThan(0)
      } finally {
        await lock.release()
        raw.disconnect()
      }
    })

    it('its key taken by another run meanwhile: lost, and said why', async () => {
      const lines: string[] = []
      const lock = await lockRedis(REDIS, 5000, (l) => lines.push(l))
      const raw = new Redis(REDIS)
      try {
        await raw.set(KEY, 'pid 1 on elsewhere (x)', 'PX', 30_000)
        expect(await lock.lost()).toMatch(LOST)
        expect(lines.join('\n')).toMatch(/^FAIL /m)
        await lock.release()
        // Releasing a lost lock leaves the other run's key alone.
        expect(await raw.get(KEY)).toBe('pid 1 on elsewhere (x)')
      } finally {
        await lock.release()
        await raw.del(KEY)
        raw.disconnect()
      }
    })
  })
})
