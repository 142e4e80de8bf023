import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BatchSQLError, defineSchema } from '@batchsql/core'
import Database from 'better-sqlite3'
import { CamelCasePlugin, Kysely, SqliteDialect } from 'kysely'
import { afterAll, describe, expect, it } from 'vitest'
import { nodeApiRefusal } from '../src/factory.js'
import { createSqliteBatchSQL } from '../src/index.js'

const dir = mkdtempSync(join(tmpdir(), 'batchsql-sqlite-factory-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** What `make()` throws, synchronously: the test fails if it returns. */
function thrown(make: () => unknown): BatchSQLError {
  try {
    make()
  } catch (err) {
    expect(err).toBeInstanceOf(BatchSQLError)
    return err as BatchSQLError
  }
  throw new Error('the factory accepted the target')
}

describe('createSqliteBatchSQL target checks', () => {
  it('options that are no object (null, a string, an AbortSignal): BATCHSQL_INVALID_CONFIG, not a TypeError', () => {
    // null was "Cannot destructure property ... as it is null"; nothing is opened before the check.
    for (const config of [null, 'x', 5, AbortSignal.abort()])
      expect(thrown(() => createSqliteBatchSQL(':memory:', config as never)).message).toMatch(
        /^createSqliteBatchSQL\(\) options must be an object/,
      )
  })

  it('no target, null, a number or a plain object: BATCHSQL_INVALID_CONFIG', () => {
    for (const target of [undefined, null, 42, {}, { filename: 'x.db' }])
      expect(thrown(() => createSqliteBatchSQL(target as never)).code).toBe(
        'BATCHSQL_INVALID_CONFIG',
      )
  })

  it('a file that cannot be opened: BATCHSQL_INVALID_CONFIG naming it, the driver error as cause', () => {
    // better-sqlite3's own TypeError ("the directory does not exist") reached the caller bare.
    const missing = join(dir, 'no', 'such', 'dir', 'x.db')
    const err = thrown(() => createSqliteBatchSQL(missing))
    expect(err.code).toBe('BATCHSQL_INVALID_CONFIG')
    expect(err.message).toContain(JSON.stringify(missing))
    expect(err.message).toMatch(/directory does not exist/)
    expect(err.cause).toBeInstanceOf(TypeError)
    // A directory is no database file either (SqliteError SQLITE_CANTOPEN).
    const directory = thrown(() => createSqliteBatchSQL(dir))
    expect(directory.code).toBe('BATCHSQL_INVALID_CONFIG')
    expect(directory.cause).toMatchObject({ code: 'SQLITE_CANTOPEN' })
  })

  it('a file that opens but is no database: BATCHSQL_INVALID_CONFIG naming it (a read-only file fails the same way)', () => {
    // better-sqlite3 opens it without complaint; the first pragma failed, and its SqliteError
    // reached the caller bare. (A file it may only read, SQLITE_READONLY, takes the same path;
    // root, which CI runs as, can write any file.)
    const text = join(dir, 'notes.txt')
    writeFileSync(text, 'not a database, and long enough to have a header to check\n'.repeat(20))
    const err = thrown(() => createSqliteBatchSQL(text))
    expect(err.code).toBe('BATCHSQL_INVALID_CONFIG')
    expect(err.message).toContain(JSON.stringify(text))
    expect(err.cause).toMatchObject({ code: 'SQLITE_NOTADB' })
  })

  it('a Database with journal_mode = OFF: BATCHSQL_INVALID_CONFIG (a failed batch could not roll back)', () => {
    const db = new Database(join(dir, 'off.db'))
    db.unsafeMode(true) // better-sqlite3 ignores journal_mode = OFF otherwise
    db.pragma('journal_mode = OFF')
    const err = thrown(() => createSqliteBatchSQL(db, { groupCommit: true }))
    expect(err.code).toBe('BATCHSQL_INVALID_CONFIG')
    expect(err.message).toMatch(/journal_mode = OFF/)
    expect(thrown(() => createSqliteBatchSQL(db)).code).toBe('BATCHSQL_INVALID_CONFIG')
    // MEMORY on a file: a transaction spilled to the file cannot be rolled back after an I/O
    // error or a crash (the file was left corrupt, acknowledged rows gone).
    db.pragma('journal_mode = MEMORY')
    expect(thrown(() => createSqliteBatchSQL(db)).message).toMatch(/journal_mode = MEMORY/)
    db.pragma('journal_mode = TRUNCATE') // any mode that can roll back is taken
    return createSqliteBatchSQL(db)
      .close()
      .finally(() => db.close())
  })

  it('an attached database file is judged by its own journal mode (a table aux.t writes there)', async () => {
    const db = new Database(':memory:')
    db.exec(`ATTACH '${join(dir, 'aux-memory.db')}' AS "aux db"`)
    db.pragma('"aux db".journal_mode = MEMORY')
    expect(thrown(() => createSqliteBatchSQL(db)).message).toMatch(
      /attached database "aux db" with journal_mode = MEMORY/,
    )
    db.pragma('"aux db".journal_mode = DELETE')
    await createSqliteBatchSQL(db).close()
    // Through a Kysely target, before the first batch; with a plugin that renames the
    // pragma's result column too (it passed as an allowed mode).
    db.pragma('"aux db".journal_mode = MEMORY')
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY)')
    const t = defineSchema({ table: 't', columns: { id: 'int' } })
    const instances = [[], [new CamelCasePlugin()]].map(
      (plugins) => new Kysely<unknown>({ dialect: new SqliteDialect({ database: db }), plugins }),
    )
    for (const kysely of instances) {
      const batch = createSqliteBatchSQL(kysely)
      const err = await batch.submitAndWait(t, { id: 1 }).catch((e: BatchSQLError) => e)
      expect((err as BatchSQLError).cause).toMatchObject({ code: 'BATCHSQL_INVALID_CONFIG' })
      await batch.close()
    }
    expect(db.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 0 })
    for (const kysely of instances) await kysely.destroy() // each closes db
  })

  it('an in-memory Database keeps its MEMORY journal (no file to lose)', async () => {
    const db = new Database(':memory:')
    expect(db.pragma('journal_mode', { simple: true })).toBe('memory')
    await createSqliteBatchSQL(db).close()
    db.close()
  })

  it('a Kysely target over a journal_mode = OFF file: every batch refused, nothing written', async () => {
    const file = join(dir, 'kysely-off.db')
    const db = new Database(file)
    db.unsafeMode(true)
    db.pragma('journal_mode = OFF')
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY)')
    const kysely = new Kysely<unknown>({ dialect: new SqliteDialect({ database: db }) })
    const batch = createSqliteBatchSQL(kysely)
    const t = defineSchema({ table: 't', columns: { id: 'int' } })
    const err = await batch.submitAndWait(t, { id: 1 }).catch((e: BatchSQLError) => e)
    expect(err).toMatchObject({ code: 'BATCHSQL_BATCH_FAILED', reason: 'non_retryable' })
    expect((err as BatchSQLError).cause).toMatchObject({ code: 'BATCHSQL_INVALID_CONFIG' })
    expect(db.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 0 })
    await batch.close()
    await kysely.destroy()
  })

  it('a Database whose journal mode cannot be read: BATCHSQL_INVALID_CONFIG, the driver error as cause', () => {
    // As better-sqlite3 fails on a WAL file in a directory the process may not write.
    const driverError = Object.assign(new Error('attempt to write a readonly database'), {
      code: 'SQLITE_READONLY_DIRECTORY',
    })
    const unreadable = {
      prepare() {
        throw driverError
      },
      pragma() {
        throw driverError
      },
    }
    const err = thrown(() => createSqliteBatchSQL(unreadable as never))
    expect(err.code).toBe('BATCHSQL_INVALID_CONFIG')
    expect(err.message).toMatch(/cannot read the journal mode/)
    expect(err.cause).toBe(driverError)
  })

  it('a file in an existing directory is created and opened', async () => {
    await createSqliteBatchSQL(join(dir, 'ok.db')).close()
  })

  it("a file in rollback mode that another process is writing: switching to WAL waits for the writer's lock, then works", async () => {
    const file = join(dir, 'busy.db')
    const setup = new Database(file)
    setup.exec('CREATE TABLE t (id INTEGER PRIMARY KEY); CREATE TABLE side (x)')
    setup.close()
    // Another process: a write transaction (RESERVED lock) held for 800 ms.
    const holder = spawn(
      process.execPath,
      [
        '-e',
        `const db = new (require('better-sqlite3'))(${JSON.stringify(file)})
         db.exec('BEGIN IMMEDIATE'); db.prepare('INSERT INTO side VALUES (1)').run()
         console.log('held')
         Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 800)
         db.exec('COMMIT'); db.close()`,
      ],
      { cwd: import.meta.dirname, stdio: ['ignore', 'pipe', 'inherit'] },
    )
    const exited = once(holder, 'exit')
    await once(holder.stdout!, 'data')
    // Until 2026-11-30: SQLITE_BUSY at once (SQLite calls no busy handler for that upgrade).
    const batch = createSqliteBatchSQL(file)
    await batch.submitAndWait(defineSchema({ table: 't', columns: ['id'] }), { id: 1 })
    await batch.close()
    await exited
    const db = new Database(file)
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal')
    expect(
      db.prepare('SELECT (SELECT count(*) FROM t) AS t, (SELECT count(*) FROM side) AS side').get(),
    ).toEqual({ t: 1, side: 1 })
    db.close()
  })
})

describe('a Node too old for the driver', () => {
  // better-sqlite3 13 on Node-API 9 (Node 22.0-22.13) crashes the process when it opens a
  // database (a segfault, checked on Node 22.12.0): refused with an error instead, before.
  it('is refused before the file is opened, saying what to upgrade', () => {
    expect(nodeApiRefusal(9, 13)).toMatch(/better-sqlite3 13 needs Node-API 10 \(Node >= 22\.14\)/)
    expect(nodeApiRefusal(10, 13)).toBeUndefined()
    expect(nodeApiRefusal(9, 12)).toBeUndefined()
    expect(nodeApiRefusal(9, undefined)).toBeUndefined()
    // This Node and the installed driver pass it: the factory above opened files.
    expect(nodeApiRefusal(Number(process.versions.napi), 13)).toBeUndefined()
  })
})
