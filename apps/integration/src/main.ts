#!/usr/bin/env node
/**
 * batchsql-integration: stress-tests BatchSQL against real databases and proves that
 * nothing was lost. With no settings: every scenario on an embedded SQLite file.
 */
import { accessSync, constants, mkdirSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CommanderError } from 'commander'
import { unlessAborted } from './abortable.js'
import { type Backend, STRATEGIES } from './backends/backend.js'
import { lockDatabase, openBackend } from './backends/open.js'
import { DatabaseInUseError, type RunLock } from './backends/run-lock.js'
import { runChild } from './child.js'
import { type AppConfig, ConfigError, type DatabaseName, parseConfig } from './config.js'
import { startMetrics } from './metrics.js'
import { createProgress, summaryLine } from './progress.js'
import type { RunReport } from './report/model.js'
import { writeReports } from './report/write.js'
import { runScenario, type ScenarioResult, UnverifiedError } from './runner.js'
import { buildScenarios } from './scenarios.js'

// The user name may be empty: Redis URLs are usually redis://:password@host.
const redact = (url: string) => url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@')

function settingsOf(c: AppConfig): Record<string, unknown> {
  return {
    ...c,
    postgresUrl: redact(c.postgresUrl),
    mysqlUrl: redact(c.mysqlUrl),
    redisUrl: redact(c.redisUrl),
  }
}

async function main(): Promise<number> {
  let config: AppConfig
  try {
    config = parseConfig(process.argv.slice(2))
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode
    if (err instanceof ConfigError) {
      process.stderr.write(
        `batchsql-integration: ${err.message}\nRun with --help to see every setting.\n`,
      )
      return err.exitCode
    }
    throw err
  }
  const scenarios = buildScenarios(config)
  const known = new Set(scenarios.map((s) => s.name))
  const unknown = (config.scenarios ?? []).filter((s) => !known.has(s))
  if (unknown.length > 0) {
    process.stderr.write(
      `batchsql-integration: unknown scenario(s) ${unknown.join(', ')}; choose from ${[...known].join(', ')}\nRun with --help to see every setting.\n`,
    )
    return 2
  }
  const selected = config.scenarios
    ? scenarios.filter((s) => config.scenarios!.includes(s.name))
    : scenarios
  // A run in which no scenario applies would test nothing: a bad combination of settings.
  if (!config.databases.some((d) => selected.some((s) => STRATEGIES[d].includes(s.strategy)))) {
    const why = selected.map((s) => `${s.name} needs "${s.strategy}"`).join(', ')
    process.stderr.write(
      `batchsql-integration: nothing to run: no selected scenario applies to ${config.databases.join(', ')} (${why}); choose other scenarios or databases\n`,
    )
    return 2
  }
  // Relative paths are relative to where the user ran the command (pnpm changes directory).
  const baseDir = process.env.INIT_CWD ?? process.cwd()
  const reportDir = resolve(baseDir, config.reportDir)
  // Checked before the run, not found unwritable once every scenario has run.
  try {
    mkdirSync(reportDir, { recursive: true })
    accessSync(reportDir, constants.W_OK)
  } catch (err) {
    const { code, message } = err as { code?: string; message?: string }
    process.stderr.write(
      `batchsql-integration: cannot write reports to ${reportDir} (${code ?? message}); set --report-dir\n`,
    )
    return 2
  }
  const progress = createProgress(config.progress)
  let metrics: Awaited<ReturnType<typeof startMetrics>>
  try {
    metrics = await startMetrics(config)
  } catch (err) {
    // A port taken or a host that does not resolve is a bad setting, not a crash.
    const { code, message } = err as { code?: string; message?: string }
    process.stderr.write(
      `batchsql-integration: cannot serve /metrics on ${config.metricsHost}:${config.prometheusPort} (${code ?? message}); set PROMETHEUS_PORT / METRICS_HOST\n`,
    )
    return 2
  }
  if (metrics.notice) progress.log(`note: ${metrics.notice}`)
  progress.log(
    `BatchSQL integration run: ${config.databases.join(', ')} · ${selected.length} scenario(s) · metrics at ${metrics.url}`,
  )
  const started = performance.now()
  const results: ScenarioResult[] = []
  const entry = fileURLToPath(import.meta.url)
  const notRun: RunReport['notRun'] = []
  /** The SQLite file the run used, when it ran on SQLite. */
  let sqliteFile: string | undefined
  // Ctrl-C / SIGTERM: the running scenario's producers stop, what they submitted is settled,
  // verified and its table dropped; no further scenario starts; the report says so. A second
  // signal exits at once.
  const stop = new AbortController()
  let interrupted: RunReport['interrupted'] = null
  const onSignal = (signal: 'SIGINT' | 'SIGTERM') => {
    if (interrupted !== null) process.exit(signal === 'SIGINT' ? 130 : 143)
    interrupted = signal
    progress.log(
      `\n${signal}: stopping the producers, settling and verifying what they submitted (again to quit at once)`,
    )
    stop.abort(new Error(signal))
  }
  const handlers = { SIGINT: () => onSignal('SIGINT'), SIGTERM: () => onSignal('SIGTERM') }
  process.on('SIGINT', handlers.SIGINT)
  process.on('SIGTERM', handlers.SIGTERM)
  const ctx = { config, metrics, progress, entry, stop: stop.signal }
  if (config.awaitScrapeMs > 0) {
    // The first scenarios would otherwise run before Prometheus's first scrape, unseen by
    // rate() (each later one waits for a scrape by itself: ScrapeWatch).
    progress.log(
      `waiting up to ${config.awaitScrapeMs / 1000} s for Prometheus to scrape ${metrics.url}`,
    )
    await unlessAborted(metrics.scraping(config.awaitScrapeMs), stop.signal, () => {})
  }
  /**
   * Runs the selected scenarios on one database, closing it at the end. Its run lock is
   * checked before and after every scenario: lost for good (run-lock.ts), the scenario that
   * ran meanwhile fails (another run may have used its table) and no further one starts.
   */
  const runDatabase = async (database: DatabaseName, lock?: RunLock): Promise<void> => {
    let backend: Backend | undefined
    try {
      backend = await unlessAborted(openBackend(database, config, baseDir), stop.signal, (b) => {
        void b.close().catch(() => {})
      })
    } catch (err) {
      notRun.push({ database, scenario: null, error: `cannot connect: ${(err as Error).message}` })
      progress.log(`FAIL ${database}: cannot connect: ${(err as Error).message}`)
      return
    }
    // Stopped while connecting: the loop's check ends the run.
    if (backend === undefined) return
    if (backend.notice) progress.log(`note: ${backend.notice}`)
    // Another run held the configured file: the report says which file this one wrote.
    if (backend.file !== undefined) sqliteFile = backend.file
    try {
      for (const scenario of selected) {
        if (interrupted) break
        if (!backend.strategies.includes(scenario.strategy)) {
          progress.log(
            `-    ${database}/${scenario.name}: not applicable (${database} has no "${scenario.strategy}" semantics)`,
          )
          continue
        }
        const lostBefore = await lock?.lost()
        if (lostBefore !== undefined) {
          const error = `${lostBefore}: its remaining scenarios did not run`
          notRun.push({ database, scenario: null, error })
          progress.log(`FAIL ${database}: ${error}`)
          break
        }
        try {
          const result = await runScenario(ctx, backend, scenario)
          const lostDuring = await lock?.lost()
          if (lostDuring !== undefined) {
            result.passed = false
            result.problems.push(
              `${lostDuring}: another run may have used the database during this scenario, so its verdict is not trusted`,
            )
            progress.log(`FAIL ${database}/${scenario.name}: ${lostDuring}`)
          }
          results.push(result)
        } catch (err) {
          // One scenario that could not run (a producer process died) does not end the run.
          const error = err instanceof Error ? err.message : String(err)
          notRun.push({
            database,
            scenario: scenario.name,
            error,
            ran: err instanceof UnverifiedError,
          })
          progress.log(`FAIL ${database}/${scenario.name}: ${error}`)
        }
      }
    } finally {
      await backend.close()
    }
  }
  // One run per server database (run-lock.ts): every database is claimed for the whole run
  // before any scenario starts, so another run is refused the databases this one uses, and
  // cannot take one of them between two of this run's databases (failing both runs).
  const locks = new Map<DatabaseName, RunLock>()
  const claimed: DatabaseName[] = []
  for (const database of config.databases) {
    if (interrupted) break
    try {
      const lock = await unlessAborted(
        lockDatabase(database, config, (line) => progress.log(line)),
        stop.signal,
        (l) => {
          void l?.release()
        },
      )
      if (lock !== undefined) locks.set(database, lock)
      // Stopped while connecting: the loop's check ends the run.
      if (!interrupted) claimed.push(database)
    } catch (err) {
      const error =
        err instanceof DatabaseInUseError
          ? err.message
          : `cannot connect: ${(err as Error).message}`
      notRun.push({ database, scenario: null, error })
      progress.log(`FAIL ${database}: ${error}`)
    }
  }
  try {
    for (const database of claimed) {
      if (interrupted) break
      await runDatabase(database, locks.get(database))
    }
  } finally {
    for (const lock of locks.values()) await lock.release()
  }
  const passed =
    interrupted === null &&
    notRun.length === 0 &&
    results.length > 0 &&
    results.every((r) => r.passed)
  const report: RunReport = {
    tool: 'batchsql-integration',
    generatedAt: new Date().toISOString(),
    passed,
    durationSeconds: Math.round((performance.now() - started) / 100) / 10,
    machine: {
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
      cpus: cpus().length,
      totalMemoryMB: Math.round(totalmem() / 1024 / 1024),
    },
    settings: { ...settingsOf(config), ...(sqliteFile === undefined ? {} : { sqliteFile }) },
    results,
    notRun,
    interrupted,
  }
  const files = writeReports(reportDir, report)
  progress.log('')
  for (const r of results) progress.log(summaryLine(r))
  // Listed again here: the lines logged when they happened have scrolled away by now.
  for (const u of notRun)
    progress.log(
      `FAIL ${u.database}/${u.scenario ?? '*'}: ${u.ran ? 'not verified' : 'did not run'}: ${u.error}`,
    )
  const unverified = notRun.filter((u) => u.ran).length
  const notStarted = notRun.length - unverified
  const notes = [
    results.length === 0 ? 'no scenario ran' : '',
    notStarted > 0 ? `${notStarted} did not run` : '',
    unverified > 0 ? `${unverified} could not be verified` : '',
    interrupted ? `interrupted by ${interrupted}, later scenarios skipped` : '',
  ].filter(Boolean)
  progress.log(
    `\n${results.filter((r) => r.passed).length}/${results.length} scenario(s) passed in ${report.durationSeconds} s${notes.length > 0 ? `; ${notes.join('; ')}: run FAILED` : ''}`,
  )
  progress.log(`reports: ${files.json}\n         ${files.html}`)
  process.off('SIGINT', handlers.SIGINT)
  process.off('SIGTERM', handlers.SIGTERM)
  if (config.lingerMs > 0 && interrupted === null) {
    progress.log(`serving ${metrics.url} for ${config.lingerMs / 1000} s more (Ctrl-C to stop)`)
    // Ending the linger early is not a failure: the exit code stays the run's.
    await new Promise<void>((r) => {
      const end = () => {
        clearTimeout(t)
        process.off('SIGINT', end)
        process.off('SIGTERM', end)
        r()
      }
      const t = setTimeout(end, config.lingerMs)
      process.once('SIGINT', end)
      process.once('SIGTERM', end)
    })
  }
  await metrics.stop()
  if (interrupted !== null) return interrupted === 'SIGINT' ? 130 : 143
  return passed ? 0 : 1
}

if (process.env.BATCHSQL_CHILD) {
  runChild(JSON.parse(process.env.BATCHSQL_CHILD)).then(
    () => process.exit(0),
    (err) => {
      console.error(err)
      process.exit(1)
    },
  )
} else {
  main().then(
    (code) => process.exit(code),
    (err) => {
      console.error(`batchsql-integration: ${err instanceof Error ? err.stack : String(err)}`)
      process.exit(1)
    },
  )
}
