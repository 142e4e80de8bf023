#!/usr/bin/env node
/**
 * batchsql-integration: stress-tests BatchSQL against real databases and proves that
 * nothing was lost. With no settings: every scenario on an embedded SQLite file.
 */
import { cpus, totalmem } from 'node:os'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CommanderError } from 'commander'
import type { Backend } from './backends/backend.js'
import { openBackend } from './backends/open.js'
import { runChild } from './child.js'
import { type AppConfig, ConfigError, parseConfig } from './config.js'
import { startMetrics } from './metrics.js'
import { createProgress, summaryLine } from './progress.js'
import type { RunReport } from './report/model.js'
import { writeReports } from './report/write.js'
import { runScenario, type ScenarioResult } from './runner.js'
import { buildScenarios } from './scenarios.js'

const redact = (url: string) => url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@')

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
      `batchsql-integration: unknown scenario(s) ${unknown.join(', ')}; choose from ${[...known].join(', ')}\n`,
    )
    return 2
  }
  const selected = config.scenarios
    ? scenarios.filter((s) => config.scenarios!.includes(s.name))
    : scenarios
  // Relative paths are relative to where the user ran the command (pnpm changes directory).
  const baseDir = process.env.INIT_CWD ?? process.cwd()
  const reportDir = resolve(baseDir, config.reportDir)
  const progress = createProgress(config.progress)
  const metrics = await startMetrics(config)
  if (metrics.notice) progress.log(`note: ${metrics.notice}`)
  progress.log(
    `BatchSQL integration run: ${config.databases.join(', ')} · ${selected.length} scenario(s) · metrics at ${metrics.url}`,
  )
  const started = performance.now()
  const results: ScenarioResult[] = []
  const entry = fileURLToPath(import.meta.url)
  let connectFailures = 0
  for (const database of config.databases) {
    let backend: Backend
    try {
      backend = await openBackend(database, config, baseDir)
    } catch (err) {
      connectFailures++
      progress.log(`FAIL ${database}: cannot connect: ${(err as Error).message}`)
      continue
    }
    try {
      for (const scenario of selected) {
        if (!backend.strategies.includes(scenario.strategy)) {
          progress.log(
            `-    ${database}/${scenario.name}: not applicable (${database} has no "${scenario.strategy}" semantics)`,
          )
          continue
        }
        results.push(await runScenario({ config, metrics, progress, entry }, backend, scenario))
      }
    } finally {
      await backend.close()
    }
  }
  const passed = connectFailures === 0 && results.length > 0 && results.every((r) => r.passed)
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
    settings: settingsOf(config),
    results,
  }
  const files = writeReports(reportDir, report)
  progress.log('')
  for (const r of results) progress.log(summaryLine(r))
  progress.log(
    `\n${results.filter((r) => r.passed).length}/${results.length} scenario(s) passed in ${report.durationSeconds} s`,
  )
  progress.log(`reports: ${files.json}\n         ${files.html}`)
  if (config.lingerMs > 0) {
    progress.log(`serving ${metrics.url} for ${config.lingerMs / 1000} s more (Ctrl-C to stop)`)
    await new Promise<void>((r) => {
      const t = setTimeout(r, config.lingerMs)
      process.once('SIGTERM', () => {
        clearTimeout(t)
        r()
      })
    })
  }
  await metrics.stop()
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
