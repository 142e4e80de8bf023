import { describe, expect, it } from 'vitest'
import { runApp } from './helpers.js'

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
    [{ SCENARIOS: 'no_such_scenario' }, [], /unknown scenario/],
    [{ METRICS_HOST: '' }, [], /host name or address is required/],
    [{ METRICS_HOST: 'no-such-host.invalid', PROMETHEUS_PORT: '0' }, [], /cannot serve \/metrics/],
  ])(
    'bad settings exit with code 2 and a message, no stack trace (%o %o)',
    async (env, args, message) => {
      const r = await runApp(env as Record<string, string>, args as string[])
      expect(r.code).toBe(2)
      expect(r.stderr).toMatch(message)
      expect(r.stderr).not.toMatch(/\n\s+at /)
    },
  )
})
