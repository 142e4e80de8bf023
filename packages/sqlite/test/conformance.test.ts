import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type ConformanceTarget, runConformanceSuite } from '@batchsql/conformance'
import Database from 'better-sqlite3'
import { Kysely, SqliteDialect } from 'kysely'
import { afterAll } from 'vitest'
import { createSqliteBatchSQL, SQLITE_MAX_PARAMETERS } from '../src/index.js'

const dir = mkdtempSync(join(tmpdir(), 'batchsql-sqlite-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const types = {
  int: 'INTEGER',
  bigint: 'INTEGER',
  float: 'REAL',
  decimal: 'TEXT',
  string: 'TEXT',
  text: 'TEXT',
  boolean: 'INTEGER',
  date: 'TEXT',
  bytes: 'BLOB',
  json: 'TEXT',
}

/** SQLITE_BUSY for real: one connection holds the write lock, another tries to write. */
async function provokeBusy(table: string, file: string): Promise<unknown> {
  const a = new Database(file)
  const b = new Database(file, { timeout: 0 })
  try {
    a.exec('BEGIN IMMEDIATE')
    a.prepare(`UPDATE "${table}" SET n = 1 WHERE id = 1`).run()
    try {
      b.prepare(`UPDATE "${table}" SET n = 2 WHERE id = 2`).run()
    } catch (err) {
      return err
    }
    throw new Error('expected SQLITE_BUSY')
  } finally {
    a.exec('ROLLBACK')
    a.close()
    b.close()
  }
}

/**
 * `groupCommit` (off by default): each target runs the suite with it on and off, so both ways
 * of committing are conformant.
 */
function target(kind: 'file' | 'memory', groupCommit: boolean): ConformanceTarget {
  const file = join(dir, `${kind}-${groupCommit}.db`)
  // The bare driver: for a file, a second connection; in memory, the only connection there is.
  const bare = new Database(kind === 'file' ? file : ':memory:')
  bare.pragma('journal_mode = WAL')
  return {
    dialect: 'sqlite',
    embedded: true,
    createBatchSQL: (config) =>
      createSqliteBatchSQL(kind === 'file' ? file : bare, { groupCommit, ...config }),
    // Group commit needs the Database, which a Kysely target keeps out of reach: without it.
    createBatchSQLOnKysely(plugins, config) {
      // In memory the instance shares the bare connection, which destroying it would close.
      const database = kind === 'file' ? new Database(file) : bare
      const kysely = new Kysely<unknown>({ dialect: new SqliteDialect({ database }), plugins })
      return {
        batch: createSqliteBatchSQL(kysely, config),
        destroy: async () => {
          if (kind === 'file') await kysely.destroy()
        },
      }
    },
    async exec(sql) {
      bare.exec(sql)
    },
    async query(sql) {
      // safeIntegers: integers past 2^53 come back exact, as bigint.
      return bare.prepare(sql).safeIntegers(true).all() as Record<string, unknown>[]
    },
    quote: (id) => `"${id.replaceAll('"', '""')}"`,
    types,
    maxParameters: SQLITE_MAX_PARAMETERS,
    async provokeLockTimeout(table) {
      if (kind === 'file') return provokeBusy(table, file)
      // An in-memory database has one connection; provoke the same error on a scratch file.
      const scratch = join(dir, 'scratch.db')
      const s = new Database(scratch)
      s.exec(`CREATE TABLE IF NOT EXISTS "${table}" (id INTEGER PRIMARY KEY, n INTEGER)`)
      s.close()
      return provokeBusy(table, scratch)
    },
    async close() {
      bare.close()
    },
  }
}

runConformanceSuite({ name: 'sqlite (file)', connect: async () => target('file', true) })
runConformanceSuite({
  name: 'sqlite (file, a commit per batch)',
  connect: async () => target('file', false),
})
runConformanceSuite({ name: 'sqlite (in-memory)', connect: async () => target('memory', false) })
runConformanceSuite({
  name: 'sqlite (in-memory, group commit)',
  connect: async () => target('memory', true),
})
