import { defineSchema } from '@batchsql/core'
import type { StatementCache } from '@batchsql/kysely'
import Database from 'better-sqlite3'
import { Kysely, SqliteDialect } from 'kysely'
import { describe, expect, it } from 'vitest'
import { createSqliteBatchSQL, SqliteAdapter } from '../src/index.js'
import { targetOf } from '../src/insert-or-rollback.js'

const t = defineSchema({ table: 't', columns: ['id', 'v'] })
type Row = { id: number; v: string | null }

/**
 * Writes `rows` (one batch) into a fresh in-memory database set up by `ddl`, through `via`;
 * returns each row's outcome and what the tables hold.
 */
async function write(via: 'database' | 'kysely', ddl: string, rows: Row[], later?: string) {
  const db = new Database(':memory:')
  db.exec(ddl)
  const target =
    via === 'database' ? db : new Kysely({ dialect: new SqliteDialect({ database: db }) })
  const batch = createSqliteBatchSQL(target, { flushSize: rows.length, flushInterval: 60_000 })
  const outcome = async (rs: Row[]) =>
    Promise.all(
      rs.map((r) =>
        batch.submitAndWait(t, r).then(
          () => 'ok',
          (e: { reason?: string }) => e.reason,
        ),
      ),
    )
  const first = await outcome(rows)
  // The schema changes between two batches (a trigger, a table clause): the second batch must
  // see it, not an answer kept from the first.
  let second: unknown[] = []
  if (later !== undefined) {
    db.exec(later)
    second = await outcome(rows.map((r) => ({ ...r, id: r.id + 100 })))
  }
  await batch.close()
  const tables = db
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    .pluck()
    .all() as string[]
  const stored = Object.fromEntries(
    tables.map((name) => [name, db.prepare(`SELECT * FROM "${name}" ORDER BY 1`).all()]),
  )
  return { first, second, stored }
}

const rows: Row[] = [
  { id: 1, v: 'a' },
  { id: 2, v: 'x' },
  { id: 3, v: null },
]

// What a table or its triggers declare that an outer OR clause would override.
const overridden: [string, string, string?][] = [
  [
    'PRIMARY KEY ON CONFLICT REPLACE',
    "CREATE TABLE t (id INTEGER PRIMARY KEY ON CONFLICT REPLACE, v TEXT); INSERT INTO t VALUES (2, 'old')",
  ],
  [
    'UNIQUE ON CONFLICT IGNORE',
    "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE ON CONFLICT IGNORE); INSERT INTO t VALUES (9, 'x')",
  ],
  [
    'NOT NULL ON CONFLICT REPLACE with a default',
    "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL ON CONFLICT REPLACE DEFAULT 'dflt')",
  ],
  [
    'a trigger running INSERT OR IGNORE',
    "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); CREATE TABLE log (v TEXT UNIQUE); INSERT INTO log VALUES ('x'); CREATE TRIGGER tr AFTER INSERT ON t BEGIN INSERT OR IGNORE INTO log VALUES (NEW.v); END",
  ],
  [
    'a temp trigger running INSERT OR REPLACE',
    'CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); CREATE TABLE last (k INTEGER PRIMARY KEY, v TEXT); CREATE TEMP TRIGGER tr AFTER INSERT ON main.t BEGIN INSERT OR REPLACE INTO last VALUES (1, NEW.v); END',
  ],
  [
    'ON/**/CONFLICT REPLACE (a comment between the words)',
    "CREATE TABLE t (id INTEGER PRIMARY KEY ON/**/CONFLICT REPLACE, v TEXT); INSERT INTO t VALUES (2, 'old')",
  ],
  [
    'ON -- a line comment, then CONFLICT IGNORE',
    "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE ON -- why\n CONFLICT IGNORE); INSERT INTO t VALUES (9, 'x')",
  ],
  [
    'UNIQUE ON CONFLICT FAIL (a failed statement keeps its earlier rows)',
    "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE ON CONFLICT FAIL); INSERT INTO t VALUES (9, 'x')",
  ],
  [
    'RAISE(FAIL) in a trigger',
    "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); CREATE TRIGGER tr BEFORE INSERT ON t WHEN NEW.v = 'x' BEGIN SELECT RAISE(FAIL, 'no x'); END",
  ],
  [
    'a trigger created after the first batch',
    'CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); CREATE TABLE last (k INTEGER PRIMARY KEY, v TEXT)',
    'CREATE TRIGGER tr AFTER INSERT ON t BEGIN INSERT OR REPLACE INTO last VALUES (1, NEW.v); END',
  ],
]

describe('plain inserts as INSERT OR ROLLBACK on a Database', () => {
  it.each(overridden)(
    '%s: the same outcome and rows as through a Kysely target',
    async (_, ddl, later) => {
      const mine = await write('database', ddl, rows, later)
      const reference = await write('kysely', ddl, rows, later)
      expect(mine).toEqual(reference)
      // Each case writes its rows somewhere (none is refused whole).
      expect(mine.first).toContain('ok')
    },
  )

  it('a Kysely target: a row a failed statement kept is not reported failed (UNIQUE ON CONFLICT FAIL)', async () => {
    // Before: one autocommitted statement kept row 1, failed at row 2; written again alone,
    // row 1 then failed as a duplicate of itself, reported failed though stored.
    const { first, stored } = await write(
      'kysely',
      "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE ON CONFLICT FAIL); INSERT INTO t VALUES (9, 'x')",
      rows,
    )
    expect(first).toEqual(['ok', 'duplicate_key', 'ok'])
    expect(stored.t).toEqual([
      { id: 1, v: 'a' },
      { id: 3, v: null },
      { id: 9, v: 'x' },
    ])
  })

  it('a table without clauses or triggers gets OR ROLLBACK; one with a trigger, plain INSERT', async () => {
    const db = new Database(':memory:')
    db.exec(
      'CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); CREATE TABLE u (id INTEGER PRIMARY KEY, v TEXT); CREATE TRIGGER tr AFTER INSERT ON u BEGIN SELECT 1; END',
    )
    const adapter = new SqliteAdapter({ database: db })
    const { createKyselyBatchSQL } = await import('@batchsql/kysely')
    const batch = createKyselyBatchSQL(
      new Kysely({ dialect: new SqliteDialect({ database: db }) }),
      adapter,
    )
    const u = defineSchema({ table: 'u', columns: ['id', 'v'] })
    await batch.submitAndWait(t, { id: 1, v: 'a' })
    await batch.submitAndWait(u, { id: 1, v: 'a' })
    await batch.close()
    const texts = [...(adapter as unknown as { prepared: StatementCache<unknown> }).prepared.keys()]
    expect(texts.filter((s) => s.startsWith('insert or rollback into "t"'))).toHaveLength(1)
    expect(texts.filter((s) => s.startsWith('insert into "u"'))).toHaveLength(1)
    expect(texts.filter((s) => s.includes('"u"') && s.includes('or rollback'))).toHaveLength(0)
  })

  it('reads the table out of the statement text, quotes and dots included', () => {
    expect(targetOf('insert or rollback into "t" ("a") values (?)')).toEqual({
      schema: undefined,
      name: 't',
    })
    expect(targetOf('insert or rollback into "a.b"."c ""d""" ("x") values (?)')).toEqual({
      schema: 'a.b',
      name: 'c "d"',
    })
    expect(targetOf('insert or rollback into "a"."b"."c" values (?)')).toBeUndefined()
  })
})

describe('a Kysely target on a connection where your transaction is open', () => {
  it("the engine's BEGIN fails, is retried as a lock wait, and writes once yours ends", async () => {
    // Every batch through a Kysely target begins a transaction (statementsKeepRows): while one
    // of yours is open, SQLite refuses it ("cannot start a transaction within a transaction"),
    // which was classified syntax, final: the rows failed at once.
    const db = new Database(':memory:')
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)')
    const batch = createSqliteBatchSQL(
      new Kysely({ dialect: new SqliteDialect({ database: db }) }),
      {
        flushSize: 1,
        retry: { maxAttempts: 50, initialDelayMs: 5, maxDelayMs: 5 },
      },
    )
    db.exec('BEGIN')
    const written = batch.submitAndWait(t, { id: 1, v: 'a' })
    await new Promise((r) => setTimeout(r, 50))
    db.exec('COMMIT')
    await written
    await batch.close()
    expect(db.prepare('SELECT * FROM t').all()).toEqual([{ id: 1, v: 'a' }])
  })
})
