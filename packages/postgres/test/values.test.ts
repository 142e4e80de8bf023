import { defineSchema } from '@batchsql/core'
import pg from 'pg'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { createPostgresBatchSQL } from '../src/index.js'
import { POSTGRES_URL } from './target.js'

// What lands in PostgreSQL, read back as text by the bare driver, for values whose stored
// form could depend on the process or on how PostgreSQL compares them.

const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 4 })
const tables: string[] = []
afterEach(async () => {
  for (const t of tables.splice(0)) await pool.query(`DROP TABLE IF EXISTS "${t}"`)
  await pool.query('DROP FUNCTION IF EXISTS bsq_reject_13()')
})
afterAll(() => pool.end())

let counter = 0
async function table(ddl: string): Promise<string> {
  const name = `bsq_values_${process.pid}_${++counter}`
  tables.push(name)
  await pool.query(`CREATE TABLE "${name}" (${ddl})`)
  return name
}

/** Runs `body` with the process in time zone `tz` (Node re-reads TZ when it is assigned). */
async function inTimeZone<T>(tz: string, body: () => Promise<T>): Promise<T> {
  const before = process.env.TZ
  process.env.TZ = tz
  try {
    return await body()
  } finally {
    if (before === undefined) delete process.env.TZ
    else process.env.TZ = before
  }
}

const outcome = (p: Promise<void>) =>
  p.then(
    () => 'committed',
    (e: unknown) => (e as { reason?: string }).reason ?? String(e),
  )

describe.each(['never', 'always'] as const)('postgres values (copy: %s)', (copy) => {
  it('booleans and bytes in an `any` column land as the INSERT path binds them, whatever the column type', async () => {
    // COPY wrote `t` and `\x6869` as text where INSERT stores `true` and `hi`: a text column
    // kept different rows depending on the path.
    const name = await table('id int PRIMARY KEY, t text, b boolean, x bytea, tx text')
    const schema = defineSchema({
      table: name,
      columns: { id: 'int', t: 'any', b: 'any', x: 'any', tx: 'any' },
    })
    // Two batches: booleans alone (COPY with copy: 'always'), then bytes (the INSERT path).
    const booleans = createPostgresBatchSQL(pool, { copy, flushInterval: 60_000 })
    await booleans.submit(schema, { id: 1, t: true, b: true, x: null, tx: 'plain' })
    await booleans.submit(schema, { id: 2, t: false, b: false, x: null, tx: 'plain' })
    expect(await booleans.close()).toMatchObject({ committed: 2, failed: 0 })
    const batch = createPostgresBatchSQL(pool, { copy, flushInterval: 60_000 })
    const hi = Buffer.from('hi')
    await batch.submit(schema, { id: 3, t: true, b: true, x: hi, tx: hi })
    expect(await batch.close()).toMatchObject({ committed: 1, failed: 0 })
    const { rows } = await pool.query(
      `SELECT id, t, b::text AS b, x::text AS x, tx FROM "${name}" ORDER BY id`,
    )
    expect(rows).toEqual([
      { id: 1, t: 'true', b: 'true', x: null, tx: 'plain' },
      { id: 2, t: 'false', b: 'false', x: null, tx: 'plain' },
      { id: 3, t: 'true', b: 'true', x: '\\x6869', tx: 'hi' },
    ])
  })

  it('a connection of your pool released inside a BEGIN is closed, not written through: every row once', async () => {
    // A one-statement batch (or a lone COPY) has no BEGIN of BatchSQL's: on that connection it
    // joined the leftover transaction, was acknowledged, and vanished with it.
    const name = await table('id int PRIMARY KEY')
    const one = new pg.Pool({ connectionString: POSTGRES_URL, max: 1 })
    const leftOpen = await one.connect()
    await leftOpen.query('BEGIN')
    leftOpen.release() // the application's bug: its transaction stays open on the connection
    const schema = defineSchema({ table: name, columns: { id: 'int' } })
    const batch = createPostgresBatchSQL(one, { copy, flushInterval: 60_000 })
    await batch.submitMany(schema, [{ id: 1 }, { id: 2 }, { id: 3 }])
    expect(await batch.close()).toMatchObject({ committed: 3, failed: 0 })
    await one.end() // a transaction still open on its connection would roll back now
    const { rows } = await pool.query(`SELECT id FROM "${name}" ORDER BY id`)
    expect(rows.map((r) => r.id)).toEqual([1, 2, 3])
  })

  it("each character COPY's text format escapes, alone in a value, lands as written", async () => {
    // One special character per value: a value holding several would hide a character the
    // escape check misses behind another it catches.
    const texts = ['a\rb', 'a\nb', 'a\tb', 'a\\b', '\\N', '\\.', '\r\n', 'plain']
    const name = await table('id int PRIMARY KEY, s text, doc jsonb')
    const schema = defineSchema({ table: name, columns: { id: 'int', s: 'string', doc: 'json' } })
    const batch = createPostgresBatchSQL(pool, { copy, flushInterval: 60_000 })
    await batch.submitMany(
      schema,
      texts.map((s, id) => ({ id, s, doc: { s } })),
    )
    expect(await batch.close()).toMatchObject({ committed: texts.length, failed: 0 })
    const { rows } = await pool.query(`SELECT s, doc FROM "${name}" ORDER BY id`)
    expect(rows).toEqual(texts.map((s) => ({ s, doc: { s } })))
  })

  it('a Date in a timestamp (without time zone) or date column is its UTC wall-clock time, whatever TZ is', async () => {
    const name = await table(
      'id int PRIMARY KEY, ts timestamp(3), d date, tz timestamptz(3), old timestamptz(3)',
    )
    const schema = defineSchema<{ id: number; ts: Date; d: Date; tz: Date; old: Date }>({
      table: name,
      columns: { id: 'int', ts: 'date', d: 'date', tz: 'date', old: 'date' },
    })
    const at = new Date('2024-01-15T01:30:00.123Z')
    // Monrovia's offset before 1972 was -0:44:30: written as local time with a whole-minute
    // offset, this instant would move by 30 s.
    const old = new Date('1960-06-01T00:00:00.000Z')
    for (const [id, tz] of [
      [1, 'America/New_York'],
      [2, 'Asia/Kolkata'],
      [3, 'Africa/Monrovia'],
    ] as const) {
      await inTimeZone(tz, async () => {
        const batch = createPostgresBatchSQL(pool, { copy })
        await batch.submitAndWait(schema, { id, ts: at, d: at, tz: at, old })
        await batch.close()
      })
    }
    const { rows } = await pool.query(
      `SELECT id, ts::text AS ts, d::text AS d, extract(epoch FROM tz)::text AS tz,
              extract(epoch FROM old)::text AS old FROM "${name}" ORDER BY id`,
    )
    const epoch = (d: Date) => (d.getTime() / 1000).toFixed(6)
    for (const id of [1, 2, 3]) {
      expect(rows[id - 1]).toEqual({
        id,
        ts: '2024-01-15 01:30:00.123',
        d: '2024-01-15',
        tz: epoch(at),
        old: epoch(old),
      })
    }
  })

  it("a trigger's RAISE EXCEPTION on one row fails that row alone; the rest commit", async () => {
    const name = await table('id int PRIMARY KEY, n int')
    await pool.query(`CREATE FUNCTION bsq_reject_13() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.n = 13 THEN RAISE EXCEPTION 'unlucky'; END IF; RETURN NEW; END $$`)
    await pool.query(
      `CREATE TRIGGER reject BEFORE INSERT ON "${name}" FOR EACH ROW EXECUTE FUNCTION bsq_reject_13()`,
    )
    const schema = defineSchema({
      table: name,
      columns: { id: 'int', n: 'int' },
    })
    const batch = createPostgresBatchSQL(pool, { copy, flushInterval: 60_000 })
    const acks = [1, 13, 3, 4].map((n, id) => outcome(batch.submitAndWait(schema, { id, n })))
    await batch.close()
    const results = await Promise.all(acks)
    expect(results).toEqual(['committed', 'data', 'committed', 'committed'])
    const { rows } = await pool.query(`SELECT n FROM "${name}" ORDER BY id`)
    expect(rows.map((r) => r.n)).toEqual([1, 3, 4])
  })

  it('two keys BatchSQL tells apart but the column stores as equal: the batch is split, the row sorted last wins', async () => {
    const name = await table('k numeric(10,2) PRIMARY KEY, v text')
    const schema = defineSchema({
      table: name,
      columns: { k: 'decimal', v: 'string' },
      strategy: 'update',
      conflictColumns: ['k'],
    })
    const batch = createPostgresBatchSQL(pool, { copy, flushInterval: 60_000 })
    const acks = [
      outcome(batch.submitAndWait(schema, { k: '1.001', v: 'first' })),
      outcome(batch.submitAndWait(schema, { k: '1.002', v: 'second' })),
      outcome(batch.submitAndWait(schema, { k: '7', v: 'other' })),
    ]
    await batch.close()
    const results = await Promise.all(acks)
    expect(results).toEqual(['committed', 'committed', 'committed'])
    const { rows } = await pool.query(`SELECT k::text AS k, v FROM "${name}" ORDER BY k`)
    expect(rows).toEqual([
      { k: '1.00', v: 'second' },
      { k: '7.00', v: 'other' },
    ])
  })
})
