// The conformance suite's ready-made provokers (crossRowLocks, waitOnRowLock), on a real
// PostgreSQL: what an outside dialect relies on when it gives session() and no provokeDeadlock.
import { crossRowLocks, waitOnRowLock } from '@batchsql/conformance'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { POSTGRES_URL } from './target.js'

const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 4 })
const table = `bsp_provoke_${process.pid}`
const target = {
  quote: (id: string) => `"${id.replaceAll('"', '""')}"`,
  async session() {
    const c = await pool.connect()
    return {
      exec: async (sql: string) => {
        await c.query(sql)
      },
      release: () => c.release(),
    }
  },
}

beforeAll(async () => {
  await pool.query(`CREATE TABLE "${table}" (id INTEGER PRIMARY KEY, n INTEGER)`)
  await pool.query(`INSERT INTO "${table}" VALUES (1, 0), (2, 0)`)
})
afterAll(async () => {
  await pool.query(`DROP TABLE IF EXISTS "${table}"`)
  await pool.end()
})

describe('conformance provokers', () => {
  it('crossRowLocks returns the deadlock victim’s error and leaves the rows as they were', async () => {
    const err = await crossRowLocks(target, table)
    expect(err).toMatchObject({ code: '40P01' })
    const { rows } = await pool.query(`SELECT n FROM "${table}" ORDER BY id`)
    expect(rows).toEqual([{ n: 0 }, { n: 0 }])
    expect(pool.idleCount).toBe(pool.totalCount)
  })

  it('waitOnRowLock returns the lock timeout and resets the connection it bounded', async () => {
    const err = await waitOnRowLock(target, table, {
      set: "SET lock_timeout = '100ms'",
      reset: 'RESET lock_timeout',
    })
    expect(err).toMatchObject({ code: '55P03' })
    const clients = await Promise.all([pool.connect(), pool.connect()])
    const settings = await Promise.all(clients.map((c) => c.query('SHOW lock_timeout')))
    for (const c of clients) c.release()
    expect(settings.map((s) => s.rows[0].lock_timeout)).toEqual(['0', '0'])
  })

  it('waitOnRowLock whose statement bounds nothing ends the wait and says so', async () => {
    const err = await waitOnRowLock(target, table, {
      set: 'SELECT 1',
      reset: 'SELECT 1',
      patienceMs: 300,
    })
    expect(String(err)).toMatch(/no lock wait timeout within 300 ms after "SELECT 1"/)
    const { rows } = await pool.query(`SELECT n FROM "${table}" WHERE id = 1`)
    expect(rows).toEqual([{ n: 1 }])
  })
})
