import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

// A disk that stops syncing: COMMIT writes the WAL frames, commit record included, then its
// fsync fails (SQLITE_IOERR_FSYNC). The frames stay in the file and the next open replays
// them, so such a batch may be stored though its COMMIT failed. A real SQLite on a real file,
// with fsync failing under it through an LD_PRELOAD shim (built here with the C compiler,
// which `.ci/run` installs where it is missing), in a child process.
const fixtures = join(import.meta.dirname, 'fixtures')
let dir: string
let shim: string

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'batchsql-fsync-'))
  shim = join(dir, 'fail-fsync.so')
  const cc = spawnSync(
    'cc',
    ['-shared', '-fPIC', '-o', shim, join(fixtures, 'fail-fsync.c'), '-ldl'],
    {
      encoding: 'utf8',
    },
  )
  if (cc.status !== 0)
    throw new Error(`cannot build the fsync shim (needs cc): ${cc.error ?? cc.stderr}`)
})

afterAll(() => rmSync(dir, { recursive: true, force: true }))

type Outcomes = Record<string, { kv: string[]; log: string[] }>

function run(mode: 'own' | 'group'): { outcomes: Outcomes; kv: number[]; log: number[] } {
  const file = join(dir, `${mode}.db`)
  const child = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      join(fixtures, 'commit-io-error.ts'),
      file,
      join(dir, `${mode}.fail`),
      mode,
    ],
    {
      encoding: 'utf8',
      env: {
        ...process.env,
        LD_PRELOAD: shim,
        BATCHSQL_FAULT_SWITCH: join(dir, `${mode}.fail`),
        BATCHSQL_FAULT_DIR: dir,
      },
      timeout: 60_000,
    },
  )
  if (child.status !== 0) throw new Error(`child failed: ${child.stderr}`)
  const outcomes = JSON.parse(child.stdout) as Outcomes
  // Reopened as a restarted process would, without the shim: WAL recovery replays what it finds.
  const db = new Database(file)
  const ids = (t: string) =>
    (db.prepare(`SELECT id FROM ${t} ORDER BY id`).all() as { id: number }[]).map((r) => r.id)
  const read = { outcomes, kv: ids('kv'), log: ids('log') }
  db.close()
  return read
}

describe.each(['own', 'group'] as const)(
  'SQLite: a COMMIT whose fsync fails (%s transaction)',
  (mode) => {
    it('never reports a row failed that is stored, nor writes one twice', () => {
      const { outcomes, kv, log } = run(mode)
      const kvSet = new Set(kv)
      const logSet = new Set(log)
      expect(log.length).toBe(logSet.size) // no row twice
      for (const [code, rows] of Object.entries(outcomes)) {
        if (code === 'ok') {
          for (const id of rows.kv) expect(kvSet.has(Number(id))).toBe(true)
          for (const id of rows.log) expect(logSet.has(Number(id))).toBe(true)
        } else if (code !== 'BATCHSQL_OUTCOME_UNKNOWN') {
          // Reported failed for certain: must not be there.
          expect({ code, stored: rows.kv.filter((id) => kvSet.has(Number(id))) }).toEqual({
            code,
            stored: [],
          })
          expect({ code, stored: rows.log.filter((id) => logSet.has(Number(id))) }).toEqual({
            code,
            stored: [],
          })
        }
      }
      // The fault bit, and plain inserts (no key: a retry could add a copy) were not retried.
      expect(outcomes.BATCHSQL_OUTCOME_UNKNOWN?.log.length ?? 0).toBeGreaterThan(0)
      // The first half was written with a working disk.
      for (let id = 0; id < 200; id++) expect(kvSet.has(id) && logSet.has(id)).toBe(true)
    })
  },
)
