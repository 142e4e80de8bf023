import { mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { type BatchMetrics, BatchSQLError, defineSchema, NoopMetricsReporter } from '@batchsql/core'
import { createKyselyBatchSQL, type StatementCache } from '@batchsql/kysely'
import Database from 'better-sqlite3'
import { Kysely, SqliteDialect } from 'kysely'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { createSqliteBatchSQL, SqliteAdapter } from '../src/index.js'

const dir = mkdtempSync(join(tmpdir(), 'batchsql-sqlite-adapter-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const events = defineSchema({ table: 'events', columns: { id: 'int', kind: 'string' } })

/** This process's open descriptors of `file` and its -wal / -shm files (Linux). */
const openDescriptors = (file: string) =>
  readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).startsWith(file)
    } catch {
      return false
    }
  }).length

/** A metrics reporter that keeps every batch the pipeline reports. */
function batchRecorder() {
  const batches: BatchMetrics[] = []
  const metrics = new (class extends NoopMetricsReporter {
    override recordBatch(m: BatchMetrics) {
      batches.push(m)
    }
  })()
  return { batches, metrics }
}

/** Each row's outcome: 'ok' once committed, else the reason it failed with. */
const outcomes = <R>(rows: R[], submit: (row: R) => Promise<void>) =>
  Promise.all(
    rows.map((row) =>
      submit(row).then(
        () => 'ok',
        (e: { reason?: string }) => e.reason,
      ),
    ),
  )

describe('sqlite adapter', () => {
  it('better-sqlite3 allows exactly 32,766 bind parameters (the adapter’s limit)', () => {
    const db = new Database(':memory:')
    db.exec('CREATE TABLE t (a)')
    const values = (n: number) => `INSERT INTO t VALUES ${Array(n).fill('(?)').join(',')}`
    expect(() => db.prepare(values(32_766))).not.toThrow()
    expect(() => db.prepare(values(32_767))).toThrow(/too many SQL variables/)
    expect(new SqliteAdapter().maxParameters).toBe(32_766)
  })

  it("classify(): the application's classifiers first, then the dialect's, then core's", async () => {
    class QuotaError extends Error {}
    const batch = createSqliteBatchSQL(':memory:', {
      classifiers: [
        (e) => (e instanceof QuotaError ? { reason: 'timeout', retryable: true } : undefined),
      ],
    })
    const busy = Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' })
    expect(batch.classify(new QuotaError('over quota'))).toEqual({
      reason: 'timeout',
      retryable: true,
    })
    expect(batch.classify(busy)).toEqual({ reason: 'lock_timeout', retryable: true })
    expect(batch.classify(new Error('who knows'))).toMatchObject({ retryable: false })
    await batch.close()
  })

  it('a file name: BatchSQL opens the database and closes it on close()', async () => {
    const file = join(dir, 'owned.db')
    const setup = new Database(file)
    setup.exec('CREATE TABLE events (id INTEGER PRIMARY KEY, kind TEXT)')
    const batch = createSqliteBatchSQL(file)
    await batch.submit(events, { id: 1, kind: 'a' })
    await batch.close()
    expect(setup.prepare('SELECT count(*) AS n FROM events').get()).toEqual({ n: 1 })
    expect(setup.pragma('journal_mode', { simple: true })).toBe('wal')
    setup.close()
    // Closed, though only the adapter's own prepared statements ever ran (never Kysely).
    expect(openDescriptors(file)).toBe(0)
  })

  it('a full database (SQLITE_FULL) is retried as io: written once space is freed, reported if not', async () => {
    const db = new Database(':memory:')
    db.exec(
      'CREATE TABLE filler (id INTEGER PRIMARY KEY, pad TEXT); CREATE TABLE events (id INTEGER PRIMARY KEY, kind TEXT)',
    )
    // The database may not grow: max_page_count at what it holds now.
    const pages = db.pragma('page_count', { simple: true }) as number
    db.pragma(`max_page_count = ${pages}`)
    const kinds = Array.from({ length: 200 }, (_, i) => ({ id: i, kind: 'x'.repeat(200) }))
    const retry = { maxAttempts: 40, initialDelayMs: 5, maxDelayMs: 10 }
    const b = createSqliteBatchSQL(db, { flushSize: 200, retry })
    const written = outcomes(kinds, (row) => b.submitAndWait(events, row))
    await new Promise((r) => setTimeout(r, 30))
    db.pragma('max_page_count = 100000') // space freed while the batch retries
    expect(new Set(await written)).toEqual(new Set(['ok']))
    await b.close()
    expect(db.prepare('SELECT count(*) AS n FROM events').get()).toEqual({ n: 200 })
    db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true })}`)
    const full = createSqliteBatchSQL(db, { flushSize: 200, retry: { maxAttempts: 2 } })
    const more = kinds.map((r) => ({ ...r, id: r.id + 1000 }))
    expect(new Set(await outcomes(more, (row) => full.submitAndWait(events, row)))).toEqual(
      new Set(['io']),
    )
    await full.close()
    db.close()
  })

  it('a file name with a bad config: the error, and no database left open', () => {
    const file = join(dir, 'bad-config.db')
    for (const config of [{ flushSize: 20_000 }, { concurrency: 0 }]) {
      expect(() => createSqliteBatchSQL(file, config)).toThrow(/flushSize|concurrency/)
    }
    // Once silently one row per statement (0, -1), or a statement every batch failed on (NaN).
    for (const config of [
      { rowsPerStatement: 0 },
      { rowsPerStatement: -1 },
      { rowsPerStatement: Number.NaN },
      { poisonRows: 'skip' as never },
      { groupCommit: 'yes' as never },
    ]) {
      expect(() => createSqliteBatchSQL(file, config)).toThrow(
        expect.objectContaining({ code: 'BATCHSQL_INVALID_CONFIG' }),
      )
    }
    expect(openDescriptors(file)).toBe(0)
  })

  it('a target that is not a file name, Database or Kysely is refused', () => {
    for (const target of [{ filename: 'x.db' }, null, 42])
      expect(() => createSqliteBatchSQL(target as never)).toThrow(
        expect.objectContaining({ code: 'BATCHSQL_INVALID_CONFIG' }),
      )
  })

  it('a Database or a Kysely instance you pass stays open after close()', async () => {
    const db = new Database(':memory:')
    db.exec('CREATE TABLE events (id INTEGER PRIMARY KEY, kind TEXT)')
    const b1 = createSqliteBatchSQL(db)
    await b1.submit(events, { id: 1, kind: 'a' })
    await b1.close()
    expect(db.open).toBe(true)
    const kysely = new Kysely<{ events: { id: number; kind: string } }>({
      dialect: new SqliteDialect({ database: db }),
    })
    const b2 = createSqliteBatchSQL(kysely)
    await b2.submit(events, { id: 2, kind: 'b' })
    await b2.close()
    expect(await kysely.selectFrom('events').select('id').orderBy('id').execute()).toEqual([
      { id: 1 },
      { id: 2 },
    ])
    await kysely.destroy()
  })

  it('what runStatements throws goes through lostInFlight: a lost reply after commit is never retried into a second copy', async () => {
    // A dialect whose own statements commit, then lose their reply (a server dialect's
    // runStatements would): SQLite runs them for real, the reply is taken away once.
    const db = new Database(':memory:')
    db.exec('CREATE TABLE log (id INTEGER, kind TEXT)') // no key: a retry adds a copy
    db.exec('CREATE TABLE kv (id INTEGER PRIMARY KEY, kind TEXT)')
    const lost = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })
    let cut = 0
    const adapter = new (class extends SqliteAdapter {
      override async runStatements(...args: Parameters<SqliteAdapter['runStatements']>) {
        const ran = await super.runStatements(...args)
        if (cut > 0) {
          cut--
          throw lost
        }
        return ran
      }
      override lostInFlight = (e: unknown) => e === lost
    })({ database: db })
    const kysely = new Kysely<unknown>({ dialect: new SqliteDialect({ database: db }) })
    const b = createKyselyBatchSQL(kysely, adapter, {
      retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 1 },
    })
    const log = defineSchema({ table: 'log', columns: { id: 'int', kind: 'string' } })
    const kv = defineSchema({
      table: 'kv',
      columns: { id: 'int', kind: 'string' },
      conflictColumns: ['id'],
      strategy: 'update',
    })
    cut = 1
    const plain = await b.submitAndWait(log, { id: 1, kind: 'a' }).catch((e: BatchSQLError) => e)
    expect(plain).toMatchObject({ code: 'BATCHSQL_OUTCOME_UNKNOWN' })
    expect(db.prepare('SELECT count(*) AS n FROM log').get()).toEqual({ n: 1 })
    cut = 1 // an upsert rewrites its own row: retried, and written
    await b.submitAndWait(kv, { id: 1, kind: 'b' })
    expect(db.prepare('SELECT kind FROM kv').all()).toEqual([{ kind: 'b' }])
    await b.close()
    await kysely.destroy()
  })

  it('SQLITE_BUSY from another connection’s lock is retried until the batch commits', async () => {
    const file = join(dir, 'busy.db')
    const locker = new Database(file)
    locker.pragma('journal_mode = WAL')
    locker.exec('CREATE TABLE events (id INTEGER PRIMARY KEY, kind TEXT)')
    const db = new Database(file, { timeout: 0 })
    const batch = createSqliteBatchSQL(db, {
      retry: { maxAttempts: 50, initialDelayMs: 10, maxDelayMs: 50 },
    })
    locker.exec('BEGIN IMMEDIATE')
    const ack = batch.submitAndWait(events, { id: 1, kind: 'a' })
    await new Promise((r) => setTimeout(r, 300))
    locker.exec('COMMIT')
    await ack
    const result = await batch.close()
    expect(result.committed).toBe(1)
    expect(locker.prepare('SELECT kind FROM events').all()).toEqual([{ kind: 'a' }])
    db.close()
    locker.close()
  })

  it('a batch waits inside SQLite (busy_timeout) for another connection’s write lock, not failing busy', async () => {
    // The lock is held by another thread, as by another process: this thread blocks in
    // SQLite's busy handler while it waits, so a connection of its own could never let go.
    const file = join(dir, 'busy-wait.db')
    const setup = new Database(file)
    setup.pragma('journal_mode = WAL')
    setup.exec('CREATE TABLE events (id INTEGER PRIMARY KEY, kind TEXT)')
    setup.close()
    const kv = defineSchema({
      table: 'events',
      columns: { id: 'int', kind: 'string' },
      strategy: 'update',
      conflictColumns: ['id'],
    })
    // No retry: a batch that failed busy fails for good, so only waiting can commit it.
    const batch = createSqliteBatchSQL(file, { retry: { maxAttempts: 1 } })
    for (const [schema, id] of [
      [events, 1],
      [kv, 2],
    ] as const) {
      const locker = new Worker(
        `const { parentPort, workerData } = require('node:worker_threads')
        const db = new (require(workerData.driver))(workerData.file)
        db.exec('BEGIN IMMEDIATE')
        db.exec("INSERT INTO events VALUES (${id + 100}, 'locker')")
        parentPort.postMessage('locked')
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300)
        db.exec('COMMIT')
        db.close()`,
        {
          eval: true,
          workerData: { file, driver: createRequire(import.meta.url).resolve('better-sqlite3') },
        },
      )
      await new Promise((r) => locker.once('message', r))
      await batch.submitAndWait(schema, { id, kind: 'a' })
      await new Promise((r) => locker.once('exit', r))
    }
    expect(await batch.close()).toMatchObject({ committed: 2, failed: 0 })
    const db = new Database(file, { readonly: true })
    expect(db.prepare('SELECT id FROM events ORDER BY id').all()).toEqual([
      { id: 1 },
      { id: 2 },
      { id: 101 },
      { id: 102 },
    ])
    db.close()
  })

  it('a value too large for better-sqlite3 (2^29 bytes) fails its own row; the others commit', async () => {
    const db = new Database(':memory:')
    db.exec('CREATE TABLE blobs (id INTEGER PRIMARY KEY, v BLOB)')
    const blobs = defineSchema({ table: 'blobs', columns: { id: 'int', v: 'bytes' } })
    const batch = createSqliteBatchSQL(db, { retry: { maxAttempts: 1 } })
    const acks = outcomes(
      [1, 2, 3, 4].map((id) => ({ id, v: id === 3 ? Buffer.alloc(2 ** 29) : Buffer.from([id]) })),
      (row) => batch.submitAndWait(blobs, row),
    )
    expect(await batch.close()).toMatchObject({ committed: 3, failed: 1 })
    expect(await acks).toEqual(['ok', 'ok', 'data', 'ok'])
    expect(db.prepare('SELECT id FROM blobs ORDER BY id').pluck().all()).toEqual([1, 2, 4])
    db.close()
  })

  it('a merged row retried alone after its half failed is counted as deduplicated once', async () => {
    const db = new Database(':memory:')
    // A trigger calls check(id): id 99 always breaks a constraint (a poison row); id 1 is
    // refused once with SQLITE_BUSY when it is written again, i.e. in the isolating half.
    let calls = 0
    db.function('check_row', (id) => {
      if (id === 99) throw Object.assign(new Error('bad row'), { code: 'SQLITE_CONSTRAINT_CHECK' })
      if (id === 1 && ++calls === 2) throw Object.assign(new Error('busy'), { code: 'SQLITE_BUSY' })
      return 1
    })
    db.exec(`CREATE TABLE kv (id INTEGER PRIMARY KEY, v TEXT);
      CREATE TRIGGER kv_check BEFORE INSERT ON kv BEGIN SELECT check_row(NEW.id); END`)
    const kv = defineSchema({
      table: 'kv',
      columns: { id: 'int', v: 'string' },
      strategy: 'update',
      conflictColumns: ['id'],
    })
    const { batches, metrics } = batchRecorder()
    const batch = createSqliteBatchSQL(db, {
      flushSize: 4,
      metrics,
      retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 1 },
    })
    const acks = outcomes(
      [
        { id: 1, v: 'a' },
        { id: 2, v: 'b' },
        { id: 1, v: 'c' },
        { id: 99, v: 'x' },
      ],
      (row) => batch.submitAndWait(kv, row),
    )
    await batch.close()
    expect(await acks).toEqual(['ok', 'ok', 'ok', 'data'])
    expect(calls).toBe(3) // whole batch, the failed half, the retry
    expect(db.prepare('SELECT id, v FROM kv ORDER BY id').all()).toEqual([
      { id: 1, v: 'c' },
      { id: 2, v: 'b' },
    ])
    // Rows 0 and 2 were merged in the first attempt (not committed) and again in the retry.
    expect(batches.reduce((n, b) => n + (b.deduplicated ?? 0), 0)).toBe(1)
    db.close()
  })

  it('a classifier that throws is passed over: rows written are counted written, the batch is in the metrics', async () => {
    const db = new Database(':memory:')
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)')
    const t = defineSchema({ table: 't', columns: { id: 'int', v: 'string' } })
    const { batches, metrics } = batchRecorder()
    const warned = vi.spyOn(process, 'emitWarning').mockImplementation(() => {})
    const batch = createSqliteBatchSQL(db, {
      flushSize: 50,
      metrics,
      classifiers: [
        (e) => {
          if (String((e as Error).message).includes('NOT NULL')) throw new Error('classifier bug')
          return undefined
        },
      ],
    })
    for (let i = 0; i < 100; i++) batch.submit(t, { id: i, v: i === 7 ? (null as never) : 'x' })
    const result = await batch.close()
    expect(db.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 99 })
    // The adapter's classifier decided instead: the NOT NULL row isolated, the others written.
    expect(result).toMatchObject({ committed: 99, failed: 1 })
    expect(batches.map((b) => [b.status, b.committed])).toEqual([
      ['partial', 49],
      ['success', 50],
    ])
    expect(warned).toHaveBeenCalledWith(
      expect.stringContaining('classifier threw'),
      expect.objectContaining({ code: 'BATCHSQL_CLASSIFIER_FAILED' }),
    )
    warned.mockRestore()
    db.close()
  })

  it('a value an expression index or generated column cannot evaluate fails its own row, not the batch', async () => {
    const db = new Database(':memory:')
    db.exec(`CREATE TABLE docs (id INTEGER PRIMARY KEY, body TEXT, n INTEGER);
      CREATE INDEX docs_a ON docs (json_extract(body, '$.a'));
      CREATE INDEX docs_n ON docs (abs(n))`)
    const docs = defineSchema({
      table: 'docs',
      columns: { id: 'int', body: 'string', n: 'bigint' },
    })
    const batch = createSqliteBatchSQL(db, { flushSize: 4, retry: { maxAttempts: 1 } })
    const acks = outcomes(
      [
        { id: 1, body: '{"a":1}', n: 1n },
        { id: 2, body: '{not json', n: 2n },
        { id: 3, body: '{"a":3}', n: -(2n ** 63n) },
        { id: 4, body: '{"a":4}', n: 4n },
      ],
      (row) => batch.submitAndWait(docs, row),
    )
    await batch.close()
    expect(await acks).toEqual(['ok', 'data', 'data', 'ok'])
    expect(db.prepare('SELECT id FROM docs ORDER BY id').pluck().all()).toEqual([1, 4])
    db.close()
  })

  it('a row that sets a generated column fails alone; the rows that leave it to the table are written', async () => {
    const db = new Database(':memory:')
    db.exec(
      'CREATE TABLE gen (id INTEGER PRIMARY KEY, a INTEGER, g INTEGER GENERATED ALWAYS AS (a * 2) STORED)',
    )
    const gen = defineSchema({ table: 'gen', columns: { id: 'int', a: 'int', g: 'int' } })
    const batch = createSqliteBatchSQL(db, { flushSize: 4, retry: { maxAttempts: 1 } })
    const acks = outcomes(
      [
        { id: 1, a: 1 },
        { id: 2, a: 2, g: 5 },
        { id: 3, a: 3 },
        { id: 4, a: 4 },
      ],
      (row) => batch.submitAndWait(gen, row),
    )
    await batch.close()
    expect(await acks).toEqual(['ok', 'data', 'ok', 'ok'])
    expect(db.prepare('SELECT id, g FROM gen ORDER BY id').all()).toEqual([
      { id: 1, g: 2 },
      { id: 3, g: 6 },
      { id: 4, g: 8 },
    ])
    db.close()
  })

  it('keeps a bounded number of prepared statements', async () => {
    const db = new Database(':memory:')
    const adapter = new SqliteAdapter({ database: db })
    db.exec('CREATE TABLE t (a, b)')
    for (let n = 1; n <= 200; n++) {
      await adapter.runStatements(
        [
          {
            sql: `INSERT INTO t VALUES ${Array(n).fill('(?, ?)').join(',')}`,
            parameters: Array(2 * n).fill(1),
            query: undefined as never,
            queryId: undefined as never,
          },
        ],
        { signal: new AbortController().signal, attempt: 1 },
      )
    }
    expect(
      (adapter as unknown as { prepared: StatementCache<unknown> }).prepared.size,
    ).toBeLessThanOrEqual(64)
    expect(db.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: (200 * 201) / 2 })
  })

  it('batches of every size from 1 to 600 rows share at most ten statement texts per shape (fewRowCounts)', async () => {
    // Interval flushes, coalesced upserts and bisection make batches of any size: one
    // statement of exactly that many rows was a text of its own, prepared for one batch.
    const db = new Database(':memory:')
    db.exec('CREATE TABLE events (id INTEGER PRIMARY KEY, kind TEXT)')
    const prepare = vi.spyOn(db, 'prepare')
    let id = 0
    for (let n = 1; n <= 600; n++) {
      // One batch of exactly n rows: a pipeline that flushes at n.
      const b = createSqliteBatchSQL(db, { flushSize: n, bufferSize: n })
      await b.submitMany(
        events,
        Array.from({ length: n }, () => ({ id: id++, kind: 'k' })),
      )
      await b.close()
    }
    expect(db.prepare('SELECT count(*) AS n FROM events').get()).toEqual({ n: id })
    const inserts = new Set(
      prepare.mock.calls.map((c) => String(c[0])).filter((t) => t.startsWith('insert')),
    )
    expect(inserts.size).toBeGreaterThan(1) // the texts were seen: 500, then powers of two
    expect(inserts.size).toBeLessThanOrEqual(10)
  })

  it('bounds prepared statements by their SQL text too (wide statements hold native memory)', async () => {
    const db = new Database(':memory:')
    const adapter = new SqliteAdapter({ database: db })
    const cols = Array.from({ length: 30 }, (_, i) => `c${i}`)
    db.exec(`CREATE TABLE w (${cols.join(', ')})`)
    const row = `(${cols.map(() => '?').join(', ')})`
    // 500 rows, then 499, 498...: statements of every size, as interval flushes make them.
    for (let n = 500; n > 440; n--) {
      await adapter.runStatements(
        [
          {
            sql: `INSERT INTO w VALUES ${Array(n).fill(row).join(',')}`,
            parameters: Array(30 * n).fill(1),
            query: undefined as never,
            queryId: undefined as never,
          },
        ],
        { signal: new AbortController().signal, attempt: 1 },
      )
    }
    const texts = [...(adapter as unknown as { prepared: StatementCache<unknown> }).prepared.keys()]
    expect(texts.length).toBeGreaterThan(1)
    expect(texts.reduce((n, t) => n + t.length, 0)).toBeLessThanOrEqual(1024 * 1024)
  })

  it.each([
    [false, 'or rollback'],
    [true, 'or abort (the default)'],
  ])(
    'groupCommit %s: a plain insert runs %s; a duplicate key fails its own row only',
    async (groupCommit) => {
      const db = new Database(':memory:')
      db.exec(
        "CREATE TABLE events (id INTEGER PRIMARY KEY, kind TEXT); INSERT INTO events VALUES (7, 'old')",
      )
      const adapter = new SqliteAdapter({ database: db, groupCommit: groupCommit ? 4 : 0 })
      const batch = createKyselyBatchSQL(
        new Kysely({ dialect: new SqliteDialect({ database: db }) }),
        adapter,
        { flushSize: 20 },
      )
      const rows = Array.from({ length: 20 }, (_, i) => ({ id: i + 1, kind: 'new' }))
      const result = await outcomes(rows, (r) => batch.submitAndWait(events, r))
      await batch.close()
      expect(result.filter((o) => o !== 'ok')).toEqual(['duplicate_key'])
      expect(result[6]).toBe('duplicate_key')
      expect(db.prepare("SELECT count(*) AS n FROM events WHERE kind = 'new'").get()).toEqual({
        n: 19,
      })
      expect(db.prepare('SELECT kind FROM events WHERE id = 7').get()).toEqual({ kind: 'old' })
      const texts = [
        ...(adapter as unknown as { prepared: StatementCache<unknown> }).prepared.keys(),
      ]
      expect(texts.some((t) => t.startsWith('insert or rollback into'))).toBe(!groupCommit)
      expect(texts.some((t) => t.startsWith('insert into'))).toBe(groupCommit)
    },
  )

  it('drops the least recently used prepared statement, not the oldest', async () => {
    const db = new Database(':memory:')
    const adapter = new SqliteAdapter({ database: db })
    db.exec('CREATE TABLE t (a)')
    const run = (n: number) =>
      adapter.runStatements(
        [
          {
            sql: `INSERT INTO t VALUES ${Array(n).fill('(?)').join(',')}`,
            parameters: Array(n).fill(1),
            query: undefined as never,
            queryId: undefined as never,
          },
        ],
        { signal: new AbortController().signal, attempt: 1 },
      )
    const cached = () => [
      ...(adapter as unknown as { prepared: StatementCache<unknown> }).prepared.keys(),
    ]
    await run(1) // the common shape, cached first
    for (let n = 2; n <= 64; n++) await run(n) // the cache is full
    await run(1) // used again: most recent now
    await run(65) // one more shape: the least recently used goes, not the first cached
    expect(cached()).toContain('INSERT INTO t VALUES (?)')
    expect(cached()).not.toContain('INSERT INTO t VALUES (?),(?)')
  })
})

describe('a transaction of the application on the same Database', () => {
  it.each([false, true])(
    'groupCommit %s: a batch waits for it to end; it is never acknowledged inside it',
    async (groupCommit) => {
      const db = new Database(':memory:')
      db.exec('CREATE TABLE events (id INTEGER PRIMARY KEY, kind TEXT)')
      const batch = createSqliteBatchSQL(db, {
        groupCommit,
        flushInterval: 1,
        // Full jitter: 40 attempts wait ~0.6 s in all, far past the 30 ms below.
        retry: { maxAttempts: 40, initialDelayMs: 20, maxDelayMs: 40 },
      })
      const causes: unknown[] = []
      const outcome = (p: Promise<void>) =>
        p.then(
          () => 'committed',
          (e: { reason?: string; cause?: unknown }) => {
            causes.push(e.cause)
            return e.reason
          },
        )
      // The application rolls back after a while: the row was never inside its transaction.
      db.exec('BEGIN')
      const first = outcome(batch.submitAndWait(events, { id: 1, kind: 'waits' }))
      await new Promise((r) => setTimeout(r, 30))
      db.exec('ROLLBACK')
      expect(await first).toBe('committed')
      // The application keeps its transaction open past every retry: reported, not written.
      db.exec('BEGIN')
      const second = outcome(batch.submitAndWait(events, { id: 2, kind: 'gives up' }))
      expect(await second).toBe('lock_timeout')
      // One error base class: the cause is BatchSQL's, with a code.
      expect(causes[0]).toBeInstanceOf(BatchSQLError)
      expect(causes[0]).toMatchObject({ code: 'BATCHSQL_FOREIGN_TRANSACTION' })
      db.exec('ROLLBACK')
      await batch.close()
      expect(db.prepare('SELECT id FROM events ORDER BY id').all()).toEqual([{ id: 1 }])
      db.close()
    },
  )
})
