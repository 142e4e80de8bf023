import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BatchFailedError, BatchSQLError, defineSchema } from '@batchsql/core'
import Database from 'better-sqlite3'
import { Kysely, SqliteDialect } from 'kysely'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { ForeignTransactionError } from '../src/classify.js'
import { GroupCommit } from '../src/group-commit.js'
import { createSqliteBatchSQL } from '../src/index.js'

const dir = mkdtempSync(join(tmpdir(), 'batchsql-sqlite-group-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const events = defineSchema({ table: 'events', columns: { id: 'int', kind: 'string' } })

/**
 * A database file with `sql` run on it, and two connections: `writer` for BatchSQL, `reader`
 * to check what is committed (another connection sees nothing uncommitted).
 */
function files(name: string, sql: string) {
  const file = join(dir, `${name}.db`)
  const reader = new Database(file)
  reader.pragma('journal_mode = WAL')
  reader.exec(sql)
  const writer = new Database(file)
  const count = (table = 'events') =>
    (reader.prepare(`SELECT count(*) AS n FROM "${table}"`).get() as { n: number }).n
  const close = () => {
    writer.close()
    reader.close()
  }
  return { file, reader, writer, count, close }
}

/** Counts the COMMITs run on the real connection (group commit ends a transaction with one). */
function countCommits(db: Database.Database): () => number {
  const exec = db.exec.bind(db)
  let n = 0
  db.exec = (sql: string) => {
    if (/^\s*COMMIT/i.test(sql)) n++
    return exec(sql)
  }
  return () => n
}

const EVENTS = 'CREATE TABLE events (id INTEGER PRIMARY KEY, kind TEXT)'

describe('sqlite group commit', () => {
  it('consecutive batches share one commit; a row is acknowledged once another connection sees it', async () => {
    const t = files('shared', EVENTS)
    const commits = countCommits(t.writer)
    const batch = createSqliteBatchSQL(t.writer, { groupCommit: true, flushSize: 100 })
    for (let i = 0; i < 2000; i++) await batch.submit(events, { id: i, kind: 'k' })
    await batch.submitAndWait(events, { id: 5000, kind: 'last' })
    expect(t.reader.prepare('SELECT kind FROM events WHERE id = 5000').get()).toEqual({
      kind: 'last',
    })
    const result = await batch.close()
    expect(result).toMatchObject({ committed: 2001, failed: 0 })
    expect(t.count()).toBe(2001)
    // 21 batches; up to 8 (the default concurrency with group commit) share a commit.
    expect(commits()).toBeGreaterThanOrEqual(3)
    expect(commits()).toBeLessThan(10)
    t.close()
  })

  it('is off unless asked, for a file name and for a Database you pass', async () => {
    const t = files('defaults', EVENTS)
    // Every connection's exec: BatchSQL opens its own for a file name.
    const exec = vi.spyOn(Database.prototype, 'exec')
    try {
      const mine = createSqliteBatchSQL(t.writer, { flushSize: 100 })
      for (let i = 0; i < 300; i++) await mine.submit(events, { id: i, kind: 'k' })
      await mine.close()
      const owned = createSqliteBatchSQL(t.file, { flushSize: 100 })
      for (let i = 300; i < 600; i++) await owned.submit(events, { id: i, kind: 'k' })
      await owned.close()
      // One transaction per batch, through better-sqlite3's own: no BEGIN IMMEDIATE of ours.
      expect(exec.mock.calls.filter(([sql]) => /BEGIN IMMEDIATE/.test(String(sql)))).toEqual([])
    } finally {
      exec.mockRestore()
    }
    expect(t.count()).toBe(600)
    t.close()
  })

  it('holds the write lock between batches while it has work: another writer waits', async () => {
    // The price of group commit, and why it is off by default.
    const t = files('lock', EVENTS)
    const other = new Database(t.file, { timeout: 0 })
    const group = new GroupCommit(t.writer, 8)
    const signal = new AbortController().signal
    const first = group.run(() => {
      t.writer.prepare(`INSERT INTO events VALUES (1, 'k')`).run()
    }, signal)
    expect(() => other.prepare(`INSERT INTO events VALUES (2, 'other')`).run()).toThrow(
      expect.objectContaining({ code: 'SQLITE_BUSY' }),
    )
    await first // committed once the event loop was idle
    other.prepare(`INSERT INTO events VALUES (2, 'other')`).run()
    expect(t.count()).toBe(2)
    other.close()
    t.close()
  })

  it('a batch that fails on its own data fails alone; the batches sharing its transaction commit', async () => {
    const t = files('poison', EVENTS)
    t.reader.exec(`INSERT INTO events VALUES (150, 'already there')`)
    const commits = countCommits(t.writer)
    const batch = createSqliteBatchSQL(t.writer, {
      groupCommit: true,
      flushSize: 100,
      poisonRows: 'fail-batch',
    })
    for (let i = 0; i < 400; i++) await batch.submit(events, { id: i, kind: 'new' })
    const result = await batch.close()
    expect(result).toMatchObject({ committed: 300, failed: 100 })
    expect(t.count()).toBe(301)
    expect(t.reader.prepare('SELECT kind FROM events WHERE id = 150').get()).toEqual({
      kind: 'already there',
    })
    expect(commits()).toBeLessThan(4)
    t.close()
  })

  it('a COMMIT that fails (a deferred foreign key) runs each batch again alone: only the bad row fails', async () => {
    const t = files(
      'deferred',
      `CREATE TABLE parent (id INTEGER PRIMARY KEY);
       INSERT INTO parent VALUES (1), (2);
       CREATE TABLE child (id INTEGER PRIMARY KEY,
         parent INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)`,
    )
    t.writer.pragma('foreign_keys = ON')
    const child = defineSchema({ table: 'child', columns: { id: 'int', parent: 'int' } })
    const batch = createSqliteBatchSQL(t.writer, { groupCommit: true, flushSize: 100 })
    let bad: Promise<void> | undefined
    for (let i = 0; i < 400; i++) {
      if (i === 250) bad = batch.submitAndWait(child, { id: i, parent: 999 })
      else await batch.submit(child, { id: i, parent: 1 + (i % 2) })
    }
    const error = await bad!.then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(error).toBeInstanceOf(BatchFailedError)
    expect((error as BatchFailedError).cause).toMatchObject({
      code: 'SQLITE_CONSTRAINT_FOREIGNKEY',
    })
    const result = await batch.close()
    expect(result).toMatchObject({ committed: 399, failed: 1 })
    expect(t.count('child')).toBe(399)
    t.close()
  })

  it('a COMMIT refused busy (a reader of a rollback journal) fails its batches for a retry, not run again at once', async () => {
    const file = join(dir, 'busy-commit.db')
    const setup = new Database(file)
    setup.pragma('journal_mode = DELETE')
    setup.exec(EVENTS)
    setup.close()
    const writer = new Database(file, { timeout: 20 })
    // Every COMMIT the writer runs, shared (exec) or a batch's own (a prepared statement).
    let commits = 0
    const commitsOf = <T extends { run: (...a: unknown[]) => unknown }>(st: T): T => {
      const run = st.run.bind(st)
      st.run = (...a: unknown[]) => {
        commits++
        return run(...a)
      }
      return st
    }
    const exec = writer.exec.bind(writer)
    writer.exec = (sql: string) => {
      if (/^\s*COMMIT/i.test(sql)) commits++
      return exec(sql)
    }
    const prepare = writer.prepare.bind(writer)
    writer.prepare = ((sql: string) => {
      const st = prepare(sql)
      return /^\s*COMMIT/i.test(sql) ? commitsOf(st) : st
    }) as typeof writer.prepare
    const reader = new Database(file)
    reader.exec('BEGIN')
    reader.prepare('SELECT count(*) FROM events').get() // a SHARED lock: no COMMIT can write
    const batch = createSqliteBatchSQL(writer, {
      groupCommit: true,
      flushSize: 10,
      retry: { maxAttempts: 1 },
    })
    const rows = Array.from({ length: 50 }, (_, id) => ({ id, kind: 'k' }))
    await batch.submitMany(events, rows)
    const result = await batch.close()
    reader.exec('ROLLBACK')
    // One shared transaction of 5 batches: its COMMIT waited busy_timeout, and no batch ran
    // again alone to wait for the same lock (5 COMMITs more before the fix).
    expect(result).toMatchObject({ committed: 0, failed: 50 })
    expect(commits).toBe(1)
    expect(reader.prepare('SELECT count(*) AS n FROM events').get()).toEqual({ n: 0 })
    writer.close()
    reader.close()
  })

  it('after a COMMIT and its ROLLBACK both failed, the next batch is not run inside that transaction', async () => {
    const t = files('stuck', 'CREATE TABLE events (id INTEGER PRIMARY KEY, kind TEXT)')
    const exec = t.writer.exec.bind(t.writer)
    let failEnd = true
    // COMMIT and ROLLBACK fail once without ending the transaction (an I/O error, say).
    t.writer.exec = (sql: string) => {
      if (failEnd && /^\s*(COMMIT|ROLLBACK)/i.test(sql)) {
        if (/^\s*ROLLBACK/i.test(sql)) failEnd = false
        throw Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR' })
      }
      return exec(sql)
    }
    const group = new GroupCommit(t.writer, 8)
    const insert = (id: number) => () => {
      t.writer.prepare('INSERT INTO events VALUES (?, ?)').run(id, 'x')
    }
    const first = group.run(insert(1), new AbortController().signal)
    group.flush()
    await expect(first).rejects.toThrow('disk I/O error')
    expect(t.writer.inTransaction).toBe(true) // still in the failed transaction
    // The next batch: the stale transaction is rolled back first, then it commits for real.
    const second = group.run(insert(2), new AbortController().signal)
    group.flush()
    await second
    expect(t.reader.prepare('SELECT id FROM events').all()).toEqual([{ id: 2 }])
    t.close()
  })

  it('a batch that rolls back the whole transaction (RAISE(ROLLBACK)) does not take the others with it', async () => {
    const t = files(
      'rollback',
      `${EVENTS};
       CREATE TRIGGER boom BEFORE INSERT ON events WHEN NEW.kind = 'boom'
       BEGIN SELECT RAISE(ROLLBACK, 'boom'); END`,
    )
    const batch = createSqliteBatchSQL(t.writer, { groupCommit: true, flushSize: 100 })
    for (let i = 0; i < 400; i++)
      await batch.submit(events, { id: i, kind: i === 250 ? 'boom' : 'k' })
    const result = await batch.close()
    expect(result).toMatchObject({ committed: 399, failed: 1 })
    expect(t.count()).toBe(399)
    expect(t.reader.prepare('SELECT count(*) AS n FROM events WHERE id = 250').get()).toEqual({
      n: 0,
    })
    t.close()
  })

  it('an aborted wait (a timeout) commits at once; a transaction ended outside is reported, not rerun', async () => {
    const t = files('direct', EVENTS)
    const group = new GroupCommit(t.writer, 8)
    const insert = (id: number) => () => {
      t.writer.prepare('INSERT INTO events VALUES (?, ?)').run(id, 'k')
    }
    const ctl = new AbortController()
    const first = group.run(insert(1), ctl.signal)
    expect(t.count()).toBe(0) // written, not committed
    ctl.abort()
    expect(t.count()).toBe(1) // committed by the abort itself, not later when idle
    await first

    const signal = new AbortController().signal
    const lost = group.run(insert(2), signal)
    t.writer.exec('COMMIT') // someone else's COMMIT on BatchSQL's connection
    const next = group.run(insert(3), signal)
    await expect(lost).rejects.toSatisfy(
      (e) => e instanceof BatchSQLError && e.code === 'BATCHSQL_OUTCOME_UNKNOWN',
    )
    group.flush()
    await next
    expect(t.reader.prepare('SELECT id FROM events ORDER BY id').all()).toEqual([
      { id: 1 },
      { id: 2 },
      { id: 3 },
    ])
    t.close()
  })

  it('a ROLLBACK then a BEGIN of yours between two batches: the first is reported, the second refused, yours commits', async () => {
    // inTransaction is true again after your BEGIN: only the marker tells the transactions apart.
    const t = files('rollback-begin', EVENTS)
    const group = new GroupCommit(t.writer, 8)
    const insert = (id: number) => () => {
      t.writer.prepare('INSERT INTO events VALUES (?, ?)').run(id, 'k')
    }
    const signal = new AbortController().signal
    const first = group.run(insert(1), signal)
    t.writer.exec('ROLLBACK') // yours: takes batch 1 back
    t.writer.exec('BEGIN')
    t.writer.prepare('INSERT INTO events VALUES (?, ?)').run(50, 'yours')
    expect(() => group.run(insert(2), signal)).toThrow(ForeignTransactionError)
    await expect(first).rejects.toSatisfy(
      (e) => e instanceof BatchSQLError && e.code === 'BATCHSQL_OUTCOME_UNKNOWN',
    )
    group.flush() // nothing of BatchSQL's open: your transaction is left alone
    t.writer.exec('COMMIT') // yours, still open
    const third = group.run(insert(3), signal)
    group.flush()
    await third
    expect(t.reader.prepare('SELECT id FROM events ORDER BY id').all()).toEqual([
      { id: 3 },
      { id: 50 },
    ])
    t.close()
  })

  it('through the pipeline, a batch whose shared transaction you ended is reported OUTCOME_UNKNOWN, once', async () => {
    const t = files('outside', EVENTS)
    // Your COMMIT on BatchSQL's connection, right after its INSERT ran in the open transaction.
    const prepare = t.writer.prepare.bind(t.writer)
    let fired = false
    t.writer.prepare = ((sql: string) => {
      const st = prepare(sql)
      if (!/^insert/i.test(sql) || fired) return st
      const run = st.run.bind(st)
      st.run = ((...a: unknown[]) => {
        const r = run(...a)
        fired = true
        queueMicrotask(() => t.writer.exec('COMMIT'))
        return r
      }) as typeof st.run
      return st
    }) as typeof t.writer.prepare
    const failures: BatchFailedError[] = []
    const b = createSqliteBatchSQL(t.writer, {
      groupCommit: true,
      onError: (f) => failures.push(f.error),
    })
    const err = await b.submitAndWait(events, { id: 1, kind: 'k' }).then(
      () => undefined,
      (e: unknown) => e,
    )
    const result = await b.close()
    expect(fired).toBe(true)
    // Written (your COMMIT), and said to be possibly written: never reported as surely failed.
    expect(t.count()).toBe(1)
    expect(err).toMatchObject({ code: 'BATCHSQL_OUTCOME_UNKNOWN', table: 'events', attempts: 1 })
    expect(err).toBeInstanceOf(BatchFailedError)
    expect(failures.map((e) => e.code)).toEqual(['BATCHSQL_OUTCOME_UNKNOWN'])
    expect(result).toMatchObject({ accepted: 1, committed: 0, failed: 1 })
    t.close()
  })

  it('expedite commits what is open, or else the next batch as soon as it has run', async () => {
    const t = files('expedite', EVENTS)
    const group = new GroupCommit(t.writer, 8)
    const signal = new AbortController().signal
    const insert = (id: number) => () => {
      t.writer.prepare('INSERT INTO events VALUES (?, ?)').run(id, 'k')
    }
    const first = group.run(insert(1), signal)
    group.expedite()
    expect(t.count()).toBe(1)
    await first
    // Nothing open: the batch waited for has not run yet; it commits right after it runs.
    group.expedite()
    const second = group.run(insert(2), signal)
    expect(t.count()).toBe(2)
    await second
    // Only that one: the next batch shares a transaction again.
    const third = group.run(insert(3), signal)
    expect(t.count()).toBe(2)
    group.flush()
    await third
    expect(t.count()).toBe(3)
    t.close()
  })

  it('needs the Database: with a Kysely target it is a configuration error', () => {
    const db = new Database(':memory:')
    const kysely = new Kysely<any>({ dialect: new SqliteDialect({ database: db }) })
    expect(() => createSqliteBatchSQL(kysely, { groupCommit: true })).toThrow(
      expect.objectContaining({ code: 'BATCHSQL_INVALID_CONFIG' }),
    )
    db.close()
  })
})
