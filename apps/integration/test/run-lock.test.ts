/**
 * One run per server database: a run started while another holds a database is refused that
 * database with a message, instead of sharing its fixed table names. The test works in
 * databases of its own (a PostgreSQL and a MariaDB database created for it, Redis database
 * index 14), so that the locks it takes never refuse another run of the app on the servers'
 * usual databases (CI's).
 */
import { rmSync } from 'node:fs'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { lockMysql } from '../src/backends/mysql.js'
import { lockPostgres } from '../src/backends/postgres.js'
import { lockRedis } from '../src/backends/redis.js'
import type { RunLock } from '../src/backends/run-lock.js'
import { readReport, runApp, tempDir } from './helpers.js'
import { ownDatabases } from './own-databases.js'

const DB = `batchsql_lock_${process.pid}`
const own = ownDatabases(DB)
const PG = own.pg
const MYSQL = own.mysql
const REDIS = 'redis://127.0.0.1:6379/14'

beforeAll(() => own.create())

afterAll(async () => {
  await own.drop()
})

const lockAll = async (): Promise<RunLock[]> => [
  await lockPostgres(PG, 5000),
  await lockMysql(MYSQL, 5000),
  await lockRedis(REDIS, 5000),
]

const settings = (dir: string, scenario = 'high_throughput') => ({
  DATABASES: 'postgres,mysql,redis',
  POSTGRES_URL: PG,
  MYSQL_URL: MYSQL,
  REDIS_URL: REDIS,
  SCENARIOS: scenario,
  CONCURRENT_WORKERS: '2',
  RECORDS_PER_WORKER: '10',
  // long_duration: 3 s a database (10,000 rows/s).
  LONG_DURATION_RECORDS: '30000',
  REPORT_DIR: dir,
  PROMETHEUS_PORT: '0',
  PROGRESS: 'none',
})

const IN_USE = (what: string) => `${what} is in use by another run of this app`

describe('one run per server database', () => {
  it('a second run is refused every database the first holds; the first runs on unharmed', {
    timeout: 60_000,
  }, async () => {
    const first = tempDir('run-lock-first')
    const second = tempDir('run-lock-second')
    let refused: Promise<Awaited<ReturnType<typeof runApp>>> | undefined
    const ran = await runApp(settings(first, 'long_duration'), [], (out) => {
      // Done with PostgreSQL, now on MariaDB: it holds all three for the whole run.
      if (refused === undefined && out.includes('PASS postgres/'))
        refused = runApp(settings(second))
    })
    expect(refused).toBeDefined()
    const r = await refused!
    expect(r.code).toBe(1)
    expect(r.stdout).toContain(
      `FAIL postgres: ${IN_USE(`PostgreSQL database ${DB} at 127.0.0.1:5432`)}`,
    )
    expect(r.stdout).toContain(
      `FAIL mysql: ${IN_USE(`MariaDB/MySQL database ${DB} at 127.0.0.1:3306`)}`,
    )
    expect(r.stdout).toMatch(
      new RegExp(`FAIL redis: ${IN_USE('Redis database 14 at 127.0.0.1:6379')} \\(pid \\d+ on `),
    )
    expect(r.stdout).toMatch(
      /0\/0 scenario\(s\) passed .*; no scenario ran; 3 did not run: run FAILED/,
    )
    const report = await readReport(second)
    expect(report.results).toEqual([])
    expect(report.notRun.map((u) => u.database)).toEqual(['postgres', 'mysql', 'redis'])
    for (const u of report.notRun) expect(u.error).toMatch(/is in use by another run/)
    // The first run was not disturbed.
    if (ran.code !== 0) console.error(ran.stdout, ran.stderr)
    expect(ran.code).toBe(0)
    expect((await readReport(first)).results.map((x) => [x.database, x.passed])).toEqual([
      ['postgres', true],
      ['mysql', true],
      ['redis', true],
    ])
    // It gave the databases back at its end (the Redis key deleted, not left to expire).
    const redis = new Redis(REDIS)
    expect(await redis.exists('batchsql-integration:lock')).toBe(0)
    redis.disconnect()
    const held = await lockAll()
    try {
      // A claim is refused also within one process.
      await expect(lockPostgres(PG, 5000)).rejects.toThrow(/is in use by another run/)
      await expect(lockMysql(MYSQL, 5000)).rejects.toThrow(/is in use by another run/)
      await expect(lockRedis(REDIS, 5000)).rejects.toThrow(
        new RegExp(`is in use by another run of this app \\(pid ${process.pid} on `),
      )
    } finally {
      for (const l of held) await l.release()
    }
    rmSync(first, { recursive: true })
    rmSync(second, { recursive: true })
  })
})
