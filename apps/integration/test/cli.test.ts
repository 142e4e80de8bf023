import { rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { readReport, runApp, tempDir } from './helpers.js'

/** Should a bad setting be missed: a run that is short and writes nothing into the cwd. */
const SMALL = {
  PROMETHEUS_PORT: '0',
  SCENARIOS: 'high_throughput',
  RECORDS_PER_WORKER: '10',
  SQLITE_PATH: join(tmpdir(), 'batchsql-cli-bad-settings/app.sqlite'),
  REPORT_DIR: join(tmpdir(), 'batchsql-cli-bad-settings'),
}

describe('command line', () => {
  it('--help lists the settings with their environment variables', async () => {
    const r = await runApp({}, ['--help'])
    expect(r.code).toBe(0)
    for (const v of [
      'PROMETHEUS_PORT',
      'TEST_DURATION',
      'CONCURRENT_WORKERS',
      'BATCH_SIZE',
      'BUFFER_SIZE',
      'RECORDS_PER_WORKER',
      'FLUSH_INTERVAL',
      'DATABASES',
      'POSTGRES_URL',
      'MYSQL_URL',
      'SQLITE_PATH',
      'REDIS_URL',
      '--processes',
    ]) {
      expect(r.stdout).toContain(v)
    }
  })

  it.each([
    [{ CONCURRENT_WORKERS: 'many' }, [], /CONCURRENT_WORKERS|concurrent-workers/],
    [{}, ['--databases', 'oracle'], /unknown database/],
    [{ SCENARIOS: 'no_such_scenario' }, [], /unknown scenario.*\nRun with --help/],
    [{ METRICS_HOST: '' }, [], /host name or address is required/],
    [{ METRICS_HOST: 'no-such-host.invalid', PROMETHEUS_PORT: '0' }, [], /cannot serve \/metrics/],
    // Before the run, not after every scenario has run (ENOTDIR with a stack trace, exit 1).
    [{ PROMETHEUS_PORT: '0' }, ['--report-dir', '/etc/passwd/x'], /cannot write reports/],
    // Longer than a timer holds (2^31 - 1 ms): it would fire after 1 ms, not linger 25 days.
    [{ ...SMALL, LINGER: '597h' }, [], /linger.*too long/],
    [SMALL, ['--flush-interval', '600h'], /too long/],
    [{ ...SMALL, CONNECT_TIMEOUT: '0s' }, [], /must be positive/],
    // No selected scenario applies to the selected databases: a run that would test nothing
    // (it printed "0/0 scenario(s) passed"), refused before connecting (port 1: nobody there).
    [
      { ...SMALL, REDIS_URL: 'redis://127.0.0.1:1/0' },
      ['--databases', 'redis', '--scenarios', 'upsert_update'],
      /nothing to run: no selected scenario applies to redis \(upsert_update needs "update"\)/,
    ],
  ])(
    'bad settings exit with code 2 and a message, no stack trace (%o %o)',
    async (env, args, message) => {
      const r = await runApp(env as Record<string, string>, args as string[])
      expect(r.code).toBe(2)
      expect(r.stderr).toMatch(message)
      expect(r.stderr).not.toMatch(/\n\s+at /)
    },
  )

  it('serves /metrics on an IPv6 address, and prints a URL that reaches it', {
    timeout: 60_000,
  }, async () => {
    const dir = tempDir('ipv6')
    let fetched: Promise<number> | undefined
    const r = await runApp(
      {
        METRICS_HOST: '::1',
        PROMETHEUS_PORT: '0',
        SQLITE_PATH: `${dir}/app.sqlite`,
        REPORT_DIR: dir,
        SCENARIOS: 'high_throughput',
        RECORDS_PER_WORKER: '10',
        PROGRESS: 'none',
        LINGER: '30s',
      },
      [],
      (out, kill) => {
        const m = /metrics at (\S+)/.exec(out)
        if (m && fetched === undefined && out.includes('serving')) {
          fetched = fetch(m[1]!)
            .then((res) => res.status)
            .finally(kill)
        }
      },
    )
    expect(r.stdout).toMatch(/metrics at http:\/\/\[::1\]:\d+\/metrics/)
    expect(await fetched).toBe(200)
    expect(r.code).toBe(0)
    rmSync(dir, { recursive: true })
  })

  it('a Redis database index the server lacks fails the database, not written to database 0; passwords are redacted', async () => {
    const dir = tempDir('redisdb')
    const r = await runApp({ PROMETHEUS_PORT: '0' }, [
      '--databases',
      'redis',
      '--redis-url',
      'redis://:s3cret@127.0.0.1:6379/99',
      '--scenarios',
      'high_throughput',
      '--records-per-worker',
      '10',
      '--report-dir',
      dir,
    ])
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(/DB index is out of range/)
    const report = JSON.stringify(await readReport(dir))
    expect(report).not.toContain('s3cret')
    expect(report).toContain('redis://:***@127.0.0.1:6379/99')
  })
})
