import { spawnSync } from 'node:child_process'
import { existsSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { openSqlite } from '../src/backends/sqlite.js'
import { readReport, runApp, tempDir } from './helpers.js'

const tablesIn = (file: string) => {
  const db = new Database(file, { readonly: true })
  try {
    return db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all()
  } finally {
    db.close()
  }
}

describe('two runs with one SQLITE_PATH', () => {
  it('do not delete each other’s database; each cleans only its own file', async () => {
    const path = join(tempDir('sqlite-file'), 'app.sqlite')
    const first = await openSqlite(path)
    await first.createTable('batchsql_first')
    // A second run starting meanwhile: it used to recreate (delete) the first one's file.
    const second = await openSqlite(path)
    try {
      expect(tablesIn(path)).toEqual(['batchsql_first'])
      expect(first.file).toBe(path)
      expect(second.file).not.toBe(path)
      expect(second.notice).toMatch(/is in use by another run \(pid \d+\); this run uses /)
      await second.createTable('batchsql_second')
      expect(tablesIn(path)).toEqual(['batchsql_first'])
      expect(tablesIn(second.file!)).toEqual(['batchsql_second'])
    } finally {
      await second.close()
    }
    // The second run's own file is gone, the first run's untouched.
    expect(existsSync(second.file!)).toBe(false)
    expect(tablesIn(path)).toEqual(['batchsql_first'])
    await first.close()
    // Its file is deleted at the end too (until 2026-11-30 the emptied file was kept, every
    // page it had grown to: 342 MB after the default run).
    expect(existsSync(path)).toBe(false)
    // Released: the next run gets the configured file again (and recreates it).
    const third = await openSqlite(path)
    expect(third.file).toBe(path)
    expect(tablesIn(path)).toEqual([])
    await third.close()
    // KEEP_TABLES keeps it.
    const kept = await openSqlite(path, true, true)
    await kept.createTable('batchsql_kept')
    await kept.close()
    expect(tablesIn(path)).toEqual(['batchsql_kept'])
    rmSync(dirname(path), { recursive: true })
  })

  it('a run that found the file in use names the file it wrote in its report', {
    timeout: 60_000,
  }, async () => {
    const dir = tempDir('sqlite-report')
    const path = join(dir, 'app.sqlite')
    // Held by a live process (this one), as by a run still going.
    writeFileSync(`${path}.lock`, String(process.pid))
    const r = await runApp(
      {
        PROMETHEUS_PORT: '0',
        SQLITE_PATH: path,
        REPORT_DIR: dir,
        SCENARIOS: 'high_throughput',
        RECORDS_PER_WORKER: '10',
        PROGRESS: 'none',
      },
      [],
    )
    expect(r.code).toBe(0)
    const report = await readReport(dir)
    expect(report.settings.sqlitePath).toBe(path)
    expect(report.settings.sqliteFile).toMatch(/app\.\d+-\d+\.sqlite$/)
    expect(r.stdout).toContain(`this run uses ${report.settings.sqliteFile as string}`)
    rmSync(dir, { recursive: true })
  })

  it('takes over the file of a run that was killed (its lock names a process that is gone)', async () => {
    const path = join(tempDir('sqlite-stale'), 'app.sqlite')
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'])
    writeFileSync(`${path}.lock`, gone.stdout.toString())
    const b = await openSqlite(path)
    expect(b.file).toBe(path)
    expect(b.notice).toBeUndefined()
    await b.close()
    expect(existsSync(`${path}.lock`)).toBe(false)
    rmSync(dirname(path), { recursive: true })
  })
})
