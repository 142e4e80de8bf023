import { describe, expect, it } from 'vitest'
import { ConfigError, parseConfig, parseDuration } from '../src/config.js'

describe('configuration', () => {
  it('has the guide’s defaults with no settings', () => {
    const c = parseConfig([], {})
    expect(c).toMatchObject({
      prometheusPort: 9090,
      prometheusPortExplicit: false,
      testDurationMs: 30 * 60_000,
      concurrentWorkers: 10,
      batchSize: 500,
      bufferSize: 10_000,
      databases: ['sqlite'],
      processes: 1,
    })
  })

  it('reads the environment, and a flag wins over its variable', () => {
    const env = {
      PROMETHEUS_PORT: '9200',
      TEST_DURATION: '90s',
      CONCURRENT_WORKERS: '4',
      DATABASES: 'mariadb, pg,redis',
      FLUSH_INTERVAL: '250ms',
    }
    const c = parseConfig(['--concurrent-workers', '6', '--batch-size=100'], env)
    expect(c).toMatchObject({
      prometheusPort: 9200,
      prometheusPortExplicit: true,
      testDurationMs: 90_000,
      concurrentWorkers: 6,
      batchSize: 100,
      flushIntervalMs: 250,
      databases: ['mysql', 'postgres', 'redis'],
    })
  })

  it.each([
    [{ CONCURRENT_WORKERS: 'ten' }, /not a positive integer/],
    [{ CONCURRENT_WORKERS: '0' }, /out of range/],
    [{ BATCH_SIZE: '-5' }, /not a positive integer/],
    [{ TEST_DURATION: '30 minutes' }, /not a duration/],
    [{ PROMETHEUS_PORT: '70000' }, /not a port/],
    [{ DATABASES: 'oracle' }, /unknown database/],
    [{ POSTGRES_URL: 'localhost:5432' }, /URL/],
    [{ BATCH_SIZE: '20000', BUFFER_SIZE: '10000' }, /must not exceed BUFFER_SIZE/],
  ])('rejects %o with a clear message', (env, message) => {
    expect(() => parseConfig([], env)).toThrow(ConfigError)
    expect(() => parseConfig([], env)).toThrow(message)
  })

  it('rejects unknown flags', () => {
    expect(() => parseConfig(['--wrokers', '3'], {})).toThrow(/unknown option/)
  })

  it('parses durations', () => {
    expect(parseDuration('1.5h')).toBe(5_400_000)
    expect(parseDuration('250ms')).toBe(250)
    expect(() => parseDuration('5')).toThrow(/not a duration/)
  })

  it('reads KEEP_TABLES as a boolean and refuses an empty SCENARIOS', () => {
    expect(parseConfig([], {}).keepTables).toBe(false)
    expect(parseConfig(['--keep-tables'], {}).keepTables).toBe(true)
    for (const [value, want] of [
      ['false', false],
      ['0', false],
      ['no', false],
      ['', false],
      ['true', true],
      ['1', true],
      ['YES', true],
    ] as const) {
      expect(parseConfig([], { KEEP_TABLES: value }).keepTables, value).toBe(want)
    }
    expect(() => parseConfig([], { KEEP_TABLES: 'maybe' })).toThrow(ConfigError)
    expect(() => parseConfig([], { SCENARIOS: '' })).toThrow(ConfigError)
    expect(() => parseConfig([], { SCENARIOS: ' , ' })).toThrow(ConfigError)
    expect(parseConfig([], { LINGER: '0' }).lingerMs).toBe(0)
    expect(parseConfig([], { LINGER: '2s' }).lingerMs).toBe(2000)
  })

  it('refuses a timer duration longer than a timer holds, and reads CONNECT_TIMEOUT', () => {
    expect(() => parseConfig([], { LINGER: '597h' })).toThrow(/too long/)
    expect(() => parseConfig([], { FLUSH_INTERVAL: '597h' })).toThrow(/too long/)
    // BatchSQL's timers take whole milliseconds: refused here, not by every scenario later.
    expect(() => parseConfig([], { FLUSH_INTERVAL: '1.5ms' })).toThrow(
      /whole number of milliseconds/,
    )
    expect(parseConfig([], { FLUSH_INTERVAL: '1.5s' }).flushIntervalMs).toBe(1500)
    expect(() => parseConfig([], { SQLITE_PATH: '' })).toThrow(/empty value is not a file path/)
    expect(() => parseConfig([], { REPORT_DIR: ' ' })).toThrow(/empty value is not a directory/)
    expect(parseConfig([], { LINGER: '596h' }).lingerMs).toBe(596 * 3_600_000)
    expect(parseConfig([], {}).connectTimeoutMs).toBe(10_000)
    expect(parseConfig(['--connect-timeout', '2s'], {}).connectTimeoutMs).toBe(2000)
  })
})
