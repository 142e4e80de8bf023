import { spawn } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join, resolve } from 'node:path'
import { afterAll } from 'vitest'
import type { RunReport } from '../src/report/model.js'

export const APP = resolve(import.meta.dirname, '../dist/main.js')

export interface AppRun {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs the built app with `env` on top of a clean environment (no inherited settings). */
export function runApp(
  env: Record<string, string>,
  args: string[] = [],
  onStdout?: (chunk: string, kill: () => void) => void,
): Promise<AppRun> {
  const base: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/tmp',
  }
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [APP, ...args], {
      env: { ...base, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout += c
      onStdout?.(stdout, () => child.kill('SIGTERM'))
    })
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c
    })
    child.on('error', reject)
    child.on('exit', (code) => resolvePromise({ code, stdout, stderr }))
  })
}

/** Directories `tempDir()` made for this test file: removed after it (keepInLogs copies). */
const made: string[] = []
afterAll(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true })
})

/**
 * A fresh directory under the system's temporary folder, removed once the test file ends:
 * each run of the suite left ~330 MB of SQLite files and reports there (4 GB after a day's CI).
 */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `batchsql-${prefix}-`))
  made.push(dir)
  return dir
}

/** Copies a file into the CI log folder (BATCHSQL_LOG_DIR) when there is one. */
export function keepInLogs(file: string, name = basename(file)): void {
  const dir = process.env.BATCHSQL_LOG_DIR
  if (!dir) return
  mkdirSync(dir, { recursive: true })
  copyFileSync(file, join(dir, name))
}

export async function readReport(dir: string): Promise<RunReport> {
  const { readFileSync } = await import('node:fs')
  return JSON.parse(readFileSync(join(dir, 'integration-report.json'), 'utf8')) as RunReport
}
