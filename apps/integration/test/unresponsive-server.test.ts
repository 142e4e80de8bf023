import { rmSync } from 'node:fs'
import { createServer, type Socket } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readReport, runApp, tempDir } from './helpers.js'

/** A "Redis" that accepts connections and never answers (a wrong port, a hung server). */
const sockets = new Set<Socket>()
const silent = createServer((s) => {
  sockets.add(s)
})
let url = ''
beforeAll(async () => {
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r))
  url = `redis://127.0.0.1:${(silent.address() as { port: number }).port}/0`
})
afterAll(async () => {
  for (const s of sockets) s.destroy()
  await new Promise((r) => silent.close(r))
})

const settings = (dir: string, connectTimeout: string, databases = 'redis') => ({
  DATABASES: databases,
  REDIS_URL: url,
  POSTGRES_URL: url.replace('redis:', 'postgres:').replace(/\/0$/, '/test'),
  MYSQL_URL: url.replace('redis:', 'mysql:').replace(/\/0$/, '/test'),
  CONNECT_TIMEOUT: connectTimeout,
  SCENARIOS: 'high_throughput',
  RECORDS_PER_WORKER: '10',
  REPORT_DIR: dir,
  PROMETHEUS_PORT: '0',
  PROGRESS: 'none',
})

describe('a server that accepts connections and never answers', () => {
  it('fails PostgreSQL and MariaDB too after CONNECT_TIMEOUT, with the same message', {
    timeout: 30_000,
  }, async () => {
    const dir = tempDir('silent-sql')
    const r = await runApp(settings(dir, '1s', 'postgres,mysql'))
    expect(r.code).toBe(1)
    for (const [db, name] of [
      ['postgres', 'PostgreSQL'],
      ['mysql', 'MariaDB/MySQL'],
    ])
      expect(r.stdout).toMatch(
        new RegExp(
          `FAIL ${db}: cannot connect: ${name} at 127\\.0\\.0\\.1:\\d+ did not answer within 1 s`,
        ),
      )
    rmSync(dir, { recursive: true })
  })

  it('names the cause when Redis refuses the connection (not only "Connection is closed.")', {
    timeout: 30_000,
  }, async () => {
    const dir = tempDir('refused-redis')
    // A port nothing listens on: the silent server's, once closed, is not known to stay free.
    const r = await runApp({ ...settings(dir, '2s'), REDIS_URL: 'redis://127.0.0.1:1/0' })
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(
      /FAIL redis: cannot connect: Redis at 127\.0\.0\.1:1: connect ECONNREFUSED/,
    )
    rmSync(dir, { recursive: true })
  })
})

describe('a Redis server that accepts connections and never answers', () => {
  it('fails the database after CONNECT_TIMEOUT: cannot connect', {
    timeout: 30_000,
  }, async () => {
    const dir = tempDir('silent-redis')
    const r = await runApp(settings(dir, '1s'))
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(
      /FAIL redis: cannot connect: Redis at 127\.0\.0\.1:\d+ did not answer within 1 s/,
    )
    const report = await readReport(dir)
    expect(report.notRun).toEqual([
      { database: 'redis', scenario: null, error: expect.stringMatching(/^cannot connect: /) },
    ])
    rmSync(dir, { recursive: true })
  })

  it('does not keep a signal from stopping the run while it connects', {
    timeout: 30_000,
  }, async () => {
    const dir = tempDir('silent-redis-signal')
    let sent = false
    // Connecting for up to a minute: the first SIGTERM must end it (it used to be ignored).
    const r = await runApp(settings(dir, '60s'), [], (out, kill) => {
      if (sent || !out.includes('BatchSQL integration run')) return
      sent = true
      setTimeout(kill, 200)
    })
    expect(r.code).toBe(143)
    const report = await readReport(dir)
    expect(report).toMatchObject({ interrupted: 'SIGTERM', results: [], notRun: [] })
    rmSync(dir, { recursive: true })
  })
})
