/**
 * Settings: environment variables (names and defaults in the README's table), the same
 * settings as flags (a flag wins over its variable). Bad values are a `ConfigError` with a
 * clear message and exit code 2 — never a silent fall-back to the default. Argument
 * parsing is commander's (a well-kept library beats a hand-written parser here).
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander'

export type DatabaseName = 'sqlite' | 'postgres' | 'mysql' | 'redis'
export const ALL_DATABASES: readonly DatabaseName[] = ['sqlite', 'postgres', 'mysql', 'redis']

export interface AppConfig {
  prometheusPort: number
  /** Interface /metrics listens on; 0.0.0.0 when Prometheus runs in a container. */
  metricsHost: string
  /** Whether the port was chosen by the user (a busy default port is not fatal). */
  prometheusPortExplicit: boolean
  testDurationMs: number
  concurrentWorkers: number
  batchSize: number
  bufferSize: number
  recordsPerWorker: number
  flushIntervalMs: number
  databases: DatabaseName[]
  scenarios: string[] | undefined
  processes: number
  sqlitePath: string
  postgresUrl: string
  mysqlUrl: string
  redisUrl: string
  reportDir: string
  /** How long connecting to a database server (its handshake included) may take. */
  connectTimeoutMs: number
  longDurationRecords: number
  keepTables: boolean
  /** Keep serving /metrics this long after the run, so Prometheus scrapes the final values. */
  lingerMs: number
  /** How long to wait for Prometheus's first scrape before the first scenario (0: not at all). */
  awaitScrapeMs: number
  progress: 'auto' | 'bar' | 'lines' | 'none'
}

export class ConfigError extends Error {
  readonly exitCode = 2
}

const DURATION_RE = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const

/** `30m`, `90s`, `1.5h`, `250ms` → milliseconds. */
export function parseDuration(text: string): number {
  const m = DURATION_RE.exec(text.trim())
  if (m === null)
    throw new InvalidArgumentError(`"${text}" is not a duration (e.g. 30s, 5m, 1h, 250ms)`)
  const ms = Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS]
  if (ms <= 0) throw new InvalidArgumentError('a duration must be positive')
  return ms
}

/** Node's timers cannot wait longer (a longer one fires after 1 ms, with a warning). */
const MAX_TIMER_MS = 2 ** 31 - 1

/** A duration a timer waits for: longer than a timer can hold is refused, not cut to 1 ms. */
export function timerDuration(text: string): number {
  const ms = parseDuration(text)
  // BatchSQL's own timers (flushInterval...) take whole milliseconds.
  if (!Number.isInteger(ms))
    throw new InvalidArgumentError(`"${text}" is not a whole number of milliseconds`)
  if (ms > MAX_TIMER_MS)
    throw new InvalidArgumentError(
      `"${text}" is too long: a timer waits at most ${MAX_TIMER_MS} ms (about 24.8 days)`,
    )
  return ms
}

/** A path setting: an empty one is a mistake (a missing variable), not the current directory. */
function nonEmpty(what: string) {
  return (text: string): string => {
    if (text.trim() === '') throw new InvalidArgumentError(`an empty value is not ${what}`)
    return text
  }
}

function positiveInt(max: number) {
  return (text: string): number => {
    if (!/^\d+$/.test(text.trim()))
      throw new InvalidArgumentError(`"${text}" is not a positive integer`)
    const n = Number(text)
    if (n < 1 || n > max) throw new InvalidArgumentError(`${n} is out of range 1..${max}`)
    return n
  }
}

function port(text: string): number {
  if (!/^\d+$/.test(text.trim())) throw new InvalidArgumentError(`"${text}" is not a port number`)
  const n = Number(text)
  if (n > 65_535) throw new InvalidArgumentError(`${n} is not a port number (0..65535)`)
  return n
}

function databases(text: string): DatabaseName[] {
  const list = text
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean)
  const aliases: Record<string, DatabaseName> = {
    mariadb: 'mysql',
    pg: 'postgres',
    postgresql: 'postgres',
  }
  const out = list.map((d) => aliases[d] ?? d)
  const bad = out.filter((d) => !(ALL_DATABASES as readonly string[]).includes(d))
  if (bad.length > 0 || out.length === 0) {
    throw new InvalidArgumentError(
      `unknown database(s) "${bad.join(',') || text}"; choose from ${ALL_DATABASES.join(',')}`,
    )
  }
  return [...new Set(out)] as DatabaseName[]
}

function url(protocols: string[]) {
  return (text: string): string => {
    let u: URL
    try {
      u = new URL(text)
    } catch {
      throw new InvalidArgumentError(`"${text}" is not a URL`)
    }
    if (!protocols.includes(u.protocol))
      throw new InvalidArgumentError(`expected a ${protocols.join(' or ')} URL`)
    return text
  }
}

/** `true`/`false` spelled as people do in environment variables; anything else is an error. */
function parseBool(text: string | boolean): boolean {
  // The bare flag passes its preset, already a boolean.
  if (typeof text === 'boolean') return text
  const t = text.trim().toLowerCase()
  if (['1', 'true', 'yes', 'on'].includes(t)) return true
  if (['0', 'false', 'no', 'off', ''].includes(t)) return false
  throw new InvalidArgumentError('expected true/false, yes/no, on/off or 1/0')
}

export function buildProgram(): Command {
  const p = new Command('batchsql-integration')
    .description(
      'Stress-tests BatchSQL against real databases and proves nothing was lost.\n' +
        'With no settings it runs every scenario on an embedded SQLite file (about a minute).',
    )
    .addOption(
      new Option('--prometheus-port <port>', 'port of /metrics (0 = any free port)')
        .env('PROMETHEUS_PORT')
        .default(9090)
        .argParser(port),
    )
    .addOption(
      new Option('--metrics-host <host>', 'interface /metrics listens on')
        .env('METRICS_HOST')
        .default('127.0.0.1')
        .argParser((host: string) => {
          if (host.trim() === '')
            throw new InvalidArgumentError('a host name or address is required')
          return host
        }),
    )
    .addOption(
      new Option('--test-duration <duration>', 'upper bound of the long-duration scenario')
        .env('TEST_DURATION')
        .default(parseDuration('30m'), '30m')
        .argParser(parseDuration),
    )
    .addOption(
      new Option('--concurrent-workers <n>', 'producers per scenario')
        .env('CONCURRENT_WORKERS')
        .default(10)
        .argParser(positiveInt(10_000)),
    )
    .addOption(
      new Option('--batch-size <n>', 'flushSize: rows per flush')
        .env('BATCH_SIZE')
        .default(500)
        .argParser(positiveInt(1_000_000)),
    )
    .addOption(
      new Option('--buffer-size <n>', 'bufferSize: rows waiting in memory at most')
        .env('BUFFER_SIZE')
        .default(10_000)
        .argParser(positiveInt(10_000_000)),
    )
    .addOption(
      new Option('--records-per-worker <n>', 'rows each producer submits')
        .env('RECORDS_PER_WORKER')
        .default(10_000)
        .argParser(positiveInt(100_000_000)),
    )
    .addOption(
      new Option('--flush-interval <duration>', 'flushInterval')
        .env('FLUSH_INTERVAL')
        .default(parseDuration('100ms'), '100ms')
        .argParser(timerDuration),
    )
    .addOption(
      new Option('--databases <list>', `comma-separated: ${ALL_DATABASES.join(',')}`)
        .env('DATABASES')
        .default(['sqlite'], 'sqlite')
        .argParser(databases),
    )
    .addOption(
      new Option('--scenarios <list>', 'run only these scenarios (comma-separated names)')
        .env('SCENARIOS')
        .argParser((t) => {
          const names = t
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean)
          // Empty would run nothing and fail; leave the variable unset to run every scenario.
          if (names.length === 0) throw new InvalidArgumentError('expected at least one name')
          return names
        }),
    )
    .addOption(
      new Option('--processes <n>', 'run the producers in N OS processes')
        .env('PROCESSES')
        .default(1)
        .argParser(positiveInt(64)),
    )
    .addOption(
      new Option('--sqlite-path <file>', 'SQLite database file')
        .env('SQLITE_PATH')
        .default('.data/integration.sqlite')
        .argParser(nonEmpty('a file path')),
    )
    .addOption(
      new Option('--postgres-url <url>', 'PostgreSQL connection URL')
        .env('POSTGRES_URL')
        .default('postgres://postgres@127.0.0.1:5432/test')
        .argParser(url(['postgres:', 'postgresql:'])),
    )
    .addOption(
      new Option('--mysql-url <url>', 'MySQL / MariaDB connection URL')
        .env('MYSQL_URL')
        .default('mysql://root@127.0.0.1:3306/test')
        .argParser(url(['mysql:', 'mariadb:'])),
    )
    .addOption(
      new Option('--redis-url <url>', 'Redis connection URL')
        .env('REDIS_URL')
        .default('redis://127.0.0.1:6379/0')
        .argParser(url(['redis:', 'rediss:'])),
    )
    .addOption(
      new Option(
        '--connect-timeout <duration>',
        'give up connecting to a database server after this long (handshake included)',
      )
        .env('CONNECT_TIMEOUT')
        .default(parseDuration('10s'), '10s')
        .argParser(timerDuration),
    )
    .addOption(
      new Option('--report-dir <dir>', 'where the JSON and HTML reports go')
        .env('REPORT_DIR')
        .default('reports')
        .argParser(nonEmpty('a directory')),
    )
    .addOption(
      new Option(
        '--long-duration-records <n>',
        'rows of the long-duration scenario (it also stops at --test-duration)',
      )
        .env('LONG_DURATION_RECORDS')
        .default(100_000)
        .argParser(positiveInt(1_000_000_000)),
    )
    .addOption(
      new Option(
        '--await-scrape <duration>',
        'before the first scenario, wait up to this long for Prometheus to scrape /metrics (e.g. 30s)',
      )
        .env('AWAIT_SCRAPE')
        .argParser((t) => (/^\s*0*\s*$/.test(t) ? 0 : timerDuration(t))),
    )
    .addOption(
      new Option('--linger <duration>', 'keep /metrics up this long after the run (e.g. 30s)')
        .env('LINGER')
        // 0 (or empty) = do not linger, as when it is not set.
        .argParser((t) => (/^\s*0*\s*$/.test(t) ? 0 : timerDuration(t))),
    )
    .addOption(
      // An optional value, so that KEEP_TABLES=false means false (a bare boolean flag would
      // take any value of its variable, "false" included, as on).
      new Option('--keep-tables [yes|no]', 'keep each scenario’s table after verification')
        .env('KEEP_TABLES')
        .preset(true)
        .argParser(parseBool),
    )
    .addOption(
      new Option('--progress <mode>', 'live progress display')
        .choices(['auto', 'bar', 'lines', 'none'])
        .env('PROGRESS')
        .default('auto'),
    )
  return p
}

/** Parses argv and environment; throws `ConfigError` on any bad setting. */
export function parseConfig(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): AppConfig {
  const program = buildProgram()
  program.exitOverride()
  program.configureOutput({ writeErr: () => {}, writeOut: (s) => process.stdout.write(s) })
  const saved = process.env
  process.env = env
  try {
    program.parse(argv as string[], { from: 'user' })
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') throw err
      throw new ConfigError(err.message.replace(/^error: /, ''))
    }
    throw err
  } finally {
    process.env = saved
  }
  const o = program.opts()
  const config: AppConfig = {
    prometheusPort: o.prometheusPort,
    metricsHost: o.metricsHost,
    prometheusPortExplicit: program.getOptionValueSource('prometheusPort') !== 'default',
    testDurationMs: o.testDuration,
    concurrentWorkers: o.concurrentWorkers,
    batchSize: o.batchSize,
    bufferSize: o.bufferSize,
    recordsPerWorker: o.recordsPerWorker,
    flushIntervalMs: o.flushInterval,
    databases: o.databases,
    scenarios: o.scenarios,
    processes: o.processes,
    sqlitePath: o.sqlitePath,
    postgresUrl: o.postgresUrl,
    mysqlUrl: o.mysqlUrl,
    redisUrl: o.redisUrl,
    reportDir: o.reportDir,
    connectTimeoutMs: o.connectTimeout,
    longDurationRecords: o.longDurationRecords,
    keepTables: o.keepTables === true,
    lingerMs: o.linger ?? 0,
    awaitScrapeMs: o.awaitScrape ?? 0,
    progress: o.progress,
  }
  if (config.batchSize > config.bufferSize) {
    throw new ConfigError(
      `BATCH_SIZE (${config.batchSize}) must not exceed BUFFER_SIZE (${config.bufferSize})`,
    )
  }
  return config
}
