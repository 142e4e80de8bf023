import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { keepInLogs, readReport, runApp, tempDir } from './helpers.js'

const SCENARIOS = [
  'high_throughput',
  'concurrent_workers',
  'large_batch',
  'memory_pressure',
  'long_duration',
  'upsert_update',
  'upsert_replace',
  'fault',
  'fault_keyless',
  'poison_rows',
]

describe('the default run (the quick start’s main job), end to end', () => {
  it('runs every scenario on embedded SQLite and proves nothing was lost', {
    timeout: 240_000,
  }, async () => {
    const dir = tempDir('default')
    let metricsText = ''
    let scraping: Promise<void> | undefined
    // Only paths and the metrics port are set (the port so parallel suites cannot clash).
    const r = await runApp(
      {
        SQLITE_PATH: join(dir, 'app.sqlite'),
        REPORT_DIR: dir,
        PROMETHEUS_PORT: '0',
        PROGRESS: 'lines',
      },
      [],
      (out) => {
        const m = /metrics at (http:\/\/\S+)/.exec(out)
        if (m && scraping === undefined && out.includes('upsert_update')) {
          scraping = fetch(m[1]!).then(async (res) => {
            metricsText = await res.text()
          })
        }
      },
    )
    await scraping
    if (r.code !== 0) console.error(r.stdout, r.stderr)
    expect(r.code).toBe(0)
    const report = await readReport(dir)
    keepInLogs(join(dir, 'integration-report.json'), 'default-run-report.json')
    keepInLogs(join(dir, 'integration-report.html'), 'default-run-report.html')
    expect(report.passed).toBe(true)
    expect(report.results.map((x) => x.scenario)).toEqual(SCENARIOS)
    for (const x of report.results) {
      expect(x.database).toBe('sqlite')
      expect(x.verification.integrityRate).toBe(100)
      expect(x.verification.foundRows).toBe(x.verification.expectedRows)
      expect(x.verification.foundChecksum).toBe(x.verification.expectedChecksum)
      expect(x.persistedRate).toBeGreaterThan(0)
      // Every acknowledged row has a latency; memory_pressure (plain submit()) and
      // large_batch (submitMany()) have no per-row acknowledgement: none.
      if (x.scenario === 'memory_pressure' || x.scenario === 'large_batch')
        expect(x.latencyMs.samples).toBe(0)
      else expect(x.latencyMs.samples).toBeGreaterThan(0)
      expect(x.timeline.length).toBeGreaterThan(0)
    }
    const byName = Object.fromEntries(report.results.map((x) => [x.scenario, x]))
    expect(byName.memory_pressure!.submitted).toBeGreaterThanOrEqual(250_000)
    // A locked SQLite file refuses the write (SQLITE_BUSY): nothing of unknown outcome, every
    // row retried into the keyless table once.
    expect(byName.fault_keyless!.fault).toMatch(/SQLITE_BUSY/)
    expect(byName.fault_keyless!.verification).toMatchObject({ inDoubtRows: 0, duplicateRows: 0 })
    expect(byName.poison_rows!.poisonSubmitted).toBeGreaterThan(0)
    expect(byName.poison_rows!.poisonReported).toBe(byName.poison_rows!.poisonSubmitted)
    expect(byName.fault!.fault).toMatch(/SQLITE_BUSY/)
    // The upsert scenarios collapse duplicates: fewer rows than submitted.
    expect(byName.upsert_update!.verification.expectedRows).toBeLessThan(
      byName.upsert_update!.submitted,
    )
    expect(existsSync(join(dir, 'integration-report.html'))).toBe(true)
    // The live /metrics carried the guide's metrics with a test_case label.
    expect(metricsText).toMatch(/batchsql_records_processed_total\{[^}]*test_case="/)
    expect(metricsText).toMatch(/batchsql_test_rps\{/)
  })

  it('--processes 2 runs the producers in two OS processes against the same database', {
    timeout: 120_000,
  }, async () => {
    const dir = tempDir('processes')
    let metricsText = ''
    let scraping: Promise<void> | undefined
    const r = await runApp(
      {
        SQLITE_PATH: join(dir, 'app.sqlite'),
        REPORT_DIR: dir,
        PROMETHEUS_PORT: '0',
        PROGRESS: 'lines',
        RECORDS_PER_WORKER: '3000',
        SCENARIOS: 'high_throughput,upsert_update',
        // /metrics stays up after the run, so the final figures can be read.
        LINGER: '3s',
      },
      ['--processes', '2'],
      (out) => {
        const m = /metrics at (http:\/\/\S+)/.exec(out)
        if (m && scraping === undefined && out.includes('serving')) {
          scraping = fetch(m[1]!).then(async (res) => {
            metricsText = await res.text()
          })
        }
      },
    )
    await scraping
    expect(r.code, r.stderr).toBe(0)
    // The producer processes' pipelines report to the parent's /metrics (replayed over IPC):
    // their batches and committed rows are there, under the scenario's test_case.
    const committed =
      /batchsql_records_processed_total\{[^}]*test_case="high_throughput"[^}]*\} (\d+)/.exec(
        metricsText,
      )
    expect(Number(committed?.[1])).toBeGreaterThan(0)
    expect(metricsText).toMatch(/batchsql_batch_execution_total\{[^}]*test_case="high_throughput"/)
    const report = await readReport(dir)
    expect(
      report.results.map((x) => [x.scenario, x.processes, x.verification.integrityRate]),
    ).toEqual([
      ['high_throughput', 2, 100],
      ['upsert_update', 2, 100],
    ])
  })
})
