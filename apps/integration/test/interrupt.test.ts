import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { readReport, runApp, tempDir } from './helpers.js'

describe('an interrupted run (SIGTERM, as Ctrl-C sends SIGINT)', () => {
  it('stops its producers mid-scenario, verifies what they submitted, drops the table, reports it, exits 143', async () => {
    const dir = tempDir('interrupt')
    const sqlite = join(dir, 'run.db')
    let sent = false
    const total = 4 * 250_000
    const r = await runApp(
      {
        DATABASES: 'sqlite',
        SQLITE_PATH: sqlite,
        SCENARIOS: 'high_throughput,concurrent_workers',
        CONCURRENT_WORKERS: '4',
        RECORDS_PER_WORKER: '250000',
        REPORT_DIR: dir,
        PROMETHEUS_PORT: '0',
        PROGRESS: 'lines',
      },
      [],
      (stdout, kill) => {
        // Once the first scenario is under way (SQLite writes synchronously: the signal is
        // handled mid-scenario only because the producers give the event loop its turns).
        if (sent || !stdout.includes('sqlite/high_throughput')) return
        sent = true
        setTimeout(kill, 1500)
      },
    )
    expect(r.code).toBe(143)
    expect(r.stdout).toMatch(/SIGTERM: stopping the producers/)
    const report = await readReport(dir)
    expect(report).toMatchObject({ passed: false, interrupted: 'SIGTERM', notRun: [] })
    expect(report.results.map((x) => x.scenario)).toEqual(['high_throughput'])
    const v = report.results[0]!.verification
    expect(v.expectedRows).toBeGreaterThan(0)
    expect(v.expectedRows).toBeLessThan(total)
    expect(v).toMatchObject({ foundRows: v.expectedRows, missingRows: 0, duplicateRows: 0 })
    // The table was dropped, and the run's SQLite file deleted with it (KEEP_TABLES unset).
    expect(existsSync(sqlite)).toBe(false)
  })
})
