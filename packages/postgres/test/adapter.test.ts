import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { defineSchema, fnv1a, type Schema } from '@batchsql/core'
import { CamelCasePlugin, Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { connectClean } from '../src/clean-connection.js'
import { announceEnd, PIECES_PER_TURN, TABLE_INFO_TTL_MS } from '../src/copy.js'
import {
  classifyPostgresError,
  copyText,
  createPostgresBatchSQL,
  lostInFlightPostgres,
} from '../src/index.js'
import { POSTGRES_URL } from './target.js'

const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 4 })
afterAll(() => pool.end())

/** Creates `table` for one test and drops it afterwards, whatever the test did. */
async function withTable<T>(table: string, columns: string, body: () => Promise<T>): Promise<T> {
  await pool.query(`CREATE TABLE ${table} (${columns})`)
  try {
    return await body()
  } finally {
    await pool.query(`DROP TABLE ${table}`)
  }
}

const cols = ['id', 'name', 'n'] as const
const schema = (strategy: 'insert' | 'ignore' | 'replace' | 'update', conflict = true) =>
  defineSchema({
    table: 'my events',
    columns: cols,
    strategy,
    conflictColumns: strategy === 'insert' || !conflict ? undefined : ['id'],
  })

describe('postgres adapter', () => {
  it('produces the documented SQL per strategy', async () => {
    const batch = createPostgresBatchSQL(pool)
    const rows = [{ id: 1, name: 'a', n: 1 }]
    expect(batch.preview(schema('insert'), rows).sql).toBe(
      'insert into "my events" ("id", "name", "n") values ($1, $2, $3)',
    )
    expect(batch.preview(schema('ignore'), rows).sql).toBe(
      'insert into "my events" ("id", "name", "n") values ($1, $2, $3) on conflict ("id") do nothing',
    )
    expect(batch.preview(schema('ignore', false), rows).sql).toBe(
      'insert into "my events" ("id", "name", "n") values ($1, $2, $3) on conflict do nothing',
    )
    const upsert =
      'insert into "my events" ("id", "name", "n") values ($1, $2, $3) on conflict ("id") do update set "name" = excluded."name", "n" = excluded."n"'
    expect(batch.preview(schema('update'), rows).sql).toBe(upsert)
    expect(batch.preview(schema('replace'), rows).sql).toBe(upsert)
    await batch.close()
  })

  it('replace without conflict columns is a clear, final error', async () => {
    const table = `bsq_noconflict_${process.pid}`
    const err = await withTable(table, 'id INT PRIMARY KEY, name TEXT', async () => {
      const batch = createPostgresBatchSQL(pool)
      const s = defineSchema({ table, columns: ['id', 'name'], strategy: 'replace' })
      const failed = await batch.submitAndWait(s, { id: 1, name: 'a' }).then(
        () => undefined,
        (e: unknown) => e,
      )
      await batch.close()
      return failed
    })
    expect(err).toMatchObject({ code: 'BATCHSQL_BATCH_FAILED', attempts: 1 })
    expect(String((err as Error & { cause: Error }).cause.message)).toMatch(/needs conflictColumns/)
  })

  it('a pool option beside a pool or URL target, a pool option that is no pg.Pool, or a wrapped pool: refused', async () => {
    const db = new Kysely<any>({ dialect: new PostgresDialect({ pool }) })
    const other = new pg.Pool({ connectionString: POSTGRES_URL })
    for (const make of [
      () => createPostgresBatchSQL(pool, { pool: other }), // once silently ignored
      () => createPostgresBatchSQL(POSTGRES_URL, { pool: other }),
      () => createPostgresBatchSQL(db, { pool: 'not a pool' as never }), // once a TypeError
      () => createPostgresBatchSQL({ pool } as never), // once a default pool of BatchSQL's own
    ])
      expect(make).toThrow(expect.objectContaining({ code: 'BATCHSQL_INVALID_CONFIG' }))
    await createPostgresBatchSQL(pool, { pool, copy: 'insert' }).close()
    await other.end()
  })

  it('a Kysely transaction as the target is refused at construction, nothing written', async () => {
    const db = new Kysely<any>({ dialect: new PostgresDialect({ pool }) })
    await db.transaction().execute(async (trx) => {
      expect(() => createPostgresBatchSQL(trx)).toThrow(
        expect.objectContaining({
          code: 'BATCHSQL_INVALID_CONFIG',
          message: expect.stringMatching(/transaction/),
        }),
      )
    })
    const controlled = await db.startTransaction().execute()
    expect(() => createPostgresBatchSQL(controlled)).toThrow(
      expect.objectContaining({ code: 'BATCHSQL_INVALID_CONFIG' }),
    )
    await controlled.rollback().execute()
  })

  it('an adapterOptions.copy that is not true or false fails its batch, with or without a pool', async () => {
    const db = new Kysely<any>({ dialect: new PostgresDialect({ pool }) })
    const b = createPostgresBatchSQL(db)
    const s = defineSchema({
      table: 'bsq_never_written',
      columns: ['id'],
      adapterOptions: { copy: 'always' },
    })
    const err = await b.submitAndWait(s, { id: 1 }).then(
      () => undefined,
      (e: unknown) => e,
    )
    await b.close()
    expect(String((err as { cause?: Error }).cause?.message)).toMatch(/must be true or false/)
  })

  it('a copy option that is not a mode, or COPY without a pool, is refused at construction', async () => {
    for (const copy of [true, 'yes']) {
      expect(() => createPostgresBatchSQL(pool, { copy: copy as never })).toThrow(
        expect.objectContaining({ code: 'BATCHSQL_INVALID_CONFIG' }),
      )
    }
    // COPY on a Kysely target without a pool to run it on: refused, not silently INSERT.
    const db = new Kysely<any>({ dialect: new PostgresDialect({ pool }) })
    expect(() => createPostgresBatchSQL(db, { copy: 'insert' })).toThrow(
      expect.objectContaining({
        code: 'BATCHSQL_INVALID_CONFIG',
        message: expect.stringMatching(/pool option/),
      }),
    )
    await createPostgresBatchSQL(db, { copy: 'insert', pool }).close()
    // COPY writes SQL of its own, which a target's plugins never see (withSchema would send
    // COPY rows to another schema's table than INSERT rows): refused, with or without `copy`
    // (a schema may opt in by itself).
    for (const plugged of [db.withSchema('other'), db.withPlugin(new CamelCasePlugin())])
      expect(() => createPostgresBatchSQL(plugged, { pool })).toThrow(
        expect.objectContaining({
          code: 'BATCHSQL_INVALID_CONFIG',
          message: expect.stringMatching(/plugins/),
        }),
      )
    await createPostgresBatchSQL(db.withSchema('other')).close()
    // Nor does a schema opting in by itself: its batch fails, final, instead of INSERT.
    const noPool = createPostgresBatchSQL(db)
    const optIn = defineSchema({
      table: 'bsq_never_written',
      columns: ['id'],
      adapterOptions: { copy: true },
    })
    const err = await noPool.submitAndWait(optIn, { id: 1 }).then(
      () => undefined,
      (e: unknown) => e,
    )
    await noPool.close()
    expect(err).toMatchObject({ reason: 'non_retryable', attempts: 1 })
    expect((err as { cause: Error }).cause.message).toMatch(/needs a pg pool/)
    // A misspelt option reaches the pipeline, which knows every option left by then.
    expect(() => createPostgresBatchSQL(pool, { copyMode: 'always' } as never)).toThrow(
      /unknown option "copyMode"/,
    )
  })

  it.each([
    ['a copy that is not a boolean', { copy: 'always' }, /copy must be true or false/],
    ['a misspelt key', { coppy: true }, /unknown adapterOptions key "coppy"/],
  ])(
    "a schema's adapterOptions with %s fails its batch, never ignored",
    async (_, options, message) => {
      const batch = createPostgresBatchSQL(pool, { copy: 'never' })
      const s = defineSchema({
        table: 'bsq_never_written',
        columns: ['id'],
        adapterOptions: options,
      })
      const err = await batch.submitAndWait(s, { id: 1 }).then(
        () => undefined,
        (e: unknown) => e,
      )
      await batch.close()
      expect(err).toMatchObject({ code: 'BATCHSQL_BATCH_FAILED', attempts: 1 })
      expect((err as { cause: { code: string } }).cause.code).toBe('BATCHSQL_INVALID_SCHEMA')
      expect(String((err as { cause: Error }).cause)).toMatch(message)
    },
  )

  it('a pool or Kysely you pass stays open after close(); a URL-made pool is ended', async () => {
    const b1 = createPostgresBatchSQL(pool)
    await b1.close()
    expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
    const kysely = new Kysely<any>({
      dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: POSTGRES_URL }) }),
    })
    const b2 = createPostgresBatchSQL(kysely)
    await b2.close()
    expect((await kysely.selectNoFrom((eb) => eb.val(1).as('one')).execute())[0]).toEqual({
      one: '1',
    })
    await kysely.destroy()
    const b3 = createPostgresBatchSQL(POSTGRES_URL)
    await b3.submit(defineSchema({ table: 'x', columns: ['a'] }), { a: 1 }).catch(() => {})
    await b3.close()
    await expect(b3.db.selectNoFrom((eb) => eb.val(1).as('one')).execute()).rejects.toThrow()
    // Destroying its Kysely instance as well is harmless, before close() or after it.
    await expect(b3.db.destroy()).resolves.toBeUndefined()
    const b4 = createPostgresBatchSQL(POSTGRES_URL)
    await b4.db.selectNoFrom((eb) => eb.val(1).as('one')).execute()
    await b4.db.destroy()
    await expect(b4.close()).resolves.toMatchObject({ failed: 0 })
  })

  it('a URL-made pool that only COPY used is ended on close() too (Kysely never ran a query)', async () => {
    const table = `bsq_copy_owned_${process.pid}`
    const application_name = `bsq_copy_owned_${process.pid}`
    await withTable(table, `id INT PRIMARY KEY`, async () => {
      const b = createPostgresBatchSQL(
        { connectionString: POSTGRES_URL, application_name },
        {
          copy: 'always',
        },
      )
      await b.submitAndWait(defineSchema({ table, columns: ['id'] }), { id: 1 })
      const sessions = async () =>
        Number(
          (
            await pool.query(
              'SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1',
              [application_name],
            )
          ).rows[0].n,
        )
      expect(await sessions()).toBeGreaterThan(0)
      await b.close()
      // The server sees the disconnect a moment after the client closes its socket.
      let left = await sessions()
      for (let i = 0; i < 50 && left > 0; i++) {
        await new Promise((r) => setTimeout(r, 20))
        left = await sessions()
      }
      expect(left).toBe(0)
    })
  })

  it('a session the server ended for idling inside a transaction (25P03) is a connection error, retried', async () => {
    // Nothing of that transaction was committed: the server rolled it back as it ended it.
    const client = new pg.Client({
      connectionString: POSTGRES_URL,
      options: '-c idle_in_transaction_session_timeout=50',
    })
    await client.connect()
    const ended = new Promise<unknown>((resolve) => client.on('error', resolve))
    await client.query('BEGIN')
    const err = await ended
    await client.end().catch(() => {})
    expect(err).toMatchObject({ code: '25P03' })
    expect(classifyPostgresError(err)).toEqual({ reason: 'connection', retryable: true })
    expect(lostInFlightPostgres(err)).toBe(false)
  })

  it('classifies server errors by SQLSTATE and leaves socket errors to core', async () => {
    const err = await pool.query('SELEC 1').then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(classifyPostgresError(err)).toEqual({ reason: 'syntax', retryable: false })
    const cancel = await pool.query("SET statement_timeout = '10ms'; SELECT pg_sleep(1)").then(
      () => undefined,
      (e: unknown) => e,
    )
    await pool.query('RESET statement_timeout')
    expect(classifyPostgresError(cancel)).toEqual({ reason: 'timeout', retryable: true })
    expect(classifyPostgresError(Object.assign(new Error('x'), { code: 'EPIPE' }))).toBeUndefined()
    expect(classifyPostgresError(new Error('Connection terminated unexpectedly'))).toEqual({
      reason: 'connection',
      retryable: true,
    })
    // A pool's connectionTimeoutMillis ran out: nothing was sent, worth retrying.
    const busy = new pg.Pool({
      connectionString: POSTGRES_URL,
      max: 1,
      connectionTimeoutMillis: 50,
    })
    const held = await busy.connect()
    const waited = await busy.connect().then(
      () => undefined,
      (e: unknown) => e,
    )
    held.release()
    await busy.end()
    expect(classifyPostgresError(waited)).toEqual({ reason: 'connection', retryable: true })
    expect(lostInFlightPostgres(waited)).toBe(false)
    // Lost in flight (the statement may have committed) only when no reply said otherwise.
    expect(lostInFlightPostgres(new Error('Connection terminated unexpectedly'))).toBe(true)
    expect(lostInFlightPostgres(Object.assign(new Error('x'), { code: 'ECONNRESET' }))).toBe(true)
    expect(
      lostInFlightPostgres(
        new Error('Client has encountered a connection error and is not queryable'),
      ),
    ).toBe(false)
    expect(lostInFlightPostgres(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBe(
      false,
    )
    // A failed write (EPIPE) never delivered the statement: retried, not in doubt.
    expect(lostInFlightPostgres(Object.assign(new Error('x'), { code: 'EPIPE' }))).toBe(false)
    // Nor did a reset while writing (the server closed with the statement half read: a batch
    // past its 1 GiB message limit was reported of unknown outcome, though nothing was written).
    expect(
      lostInFlightPostgres(Object.assign(new Error('x'), { code: 'ECONNRESET', syscall: 'write' })),
    ).toBe(false)
    expect(
      lostInFlightPostgres(Object.assign(new Error('x'), { code: 'ECONNRESET', syscall: 'read' })),
    ).toBe(true)
    expect(lostInFlightPostgres(cancel)).toBe(false)
  })

  it('cuts a batch under the server’s 1 GiB message limit by bytes, not only by parameters', async () => {
    const b = createPostgresBatchSQL(pool)
    const s = defineSchema({ table: 'bsq_never_written', columns: { id: 'int', doc: 'string' } })
    const big = 'x'.repeat(5_000_000) // one string, shared: 220 rows of 5 MB, 1.1 GB as a statement
    const rows = Array.from({ length: 220 }, (_, id) => ({ id, doc: big }))
    const p = b.preview(s, rows)
    await b.close()
    expect(p.statements).toBeGreaterThan(1) // once one Bind of 1.1 GB: the server hung up
    const small = createPostgresBatchSQL(pool)
    expect(small.preview(s, rows.slice(0, 2)).statements).toBe(1)
    await small.close()
  })

  it('encodes COPY text: escapes, NULL, booleans, bytea, dates', () => {
    expect(
      ['a\tb\nc\\d\r', null, true, Buffer.from([1, 255]), new Date(0), '12'].map(copyText),
    ).toEqual(['a\\tb\\nc\\\\d\\r', '\\N', 'true', '\\\\x01ff', '1970-01-01T00:00:00.000Z', '12'])
  })
})

describe('a large COPY batch', () => {
  /** Counts turns of the event loop (check phase) until stopped. */
  function turnCounter() {
    let turns = 0
    let on = true
    const spin = () => {
      turns++
      if (on) setImmediate(spin)
    }
    setImmediate(spin)
    return () => {
      on = false
      return turns
    }
  }

  it('lets the event loop turn every PIECES_PER_TURN pieces of COPY text it hands over', async () => {
    const stop = turnCounter()
    let ended = false
    const taken: string[] = []
    for await (const piece of announceEnd(
      Array.from({ length: PIECES_PER_TURN * 4 }, (_, i) => String(i)),
      () => {
        ended = true
      },
    ))
      taken.push(piece)
    // Without the turns the spinner would not have run once before the loop ended.
    expect(stop()).toBeGreaterThanOrEqual(4)
    expect(ended).toBe(true)
    expect(taken).toHaveLength(PIECES_PER_TURN * 4)
  })
})

describe('pg-copy-streams, an optional peer', () => {
  it('is not needed to load the package; asking for COPY without it warns at once, and a COPY batch is reported, final', async () => {
    // A fresh Node process on the built package, whose resolver pretends pg-copy-streams is
    // not installed (as for a user who never added it).
    const dir = mkdtempSync(join(tmpdir(), 'bsq-nocopy-'))
    const hooks = join(dir, 'hooks.mjs')
    writeFileSync(
      hooks,
      `export async function resolve(specifier, context, next) {
        if (specifier === 'pg-copy-streams') {
          const e = new Error('Cannot find package pg-copy-streams')
          e.code = 'ERR_MODULE_NOT_FOUND'
          throw e
        }
        return next(specifier, context)
      }`,
    )
    writeFileSync(
      join(dir, 'register.mjs'),
      `import { register } from 'node:module'\nregister(${JSON.stringify(pathToFileURL(hooks).href)})`,
    )
    const table = `bsq_nocopy_${process.pid}`
    const script = `
      import { defineSchema } from '@batchsql/core'
      import { createPostgresBatchSQL } from '@batchsql/postgres'
      const warnings = []
      process.on('warning', (w) => warnings.push(w.code))
      // Asking for COPY loads it at once: a missing package is a warning at startup.
      const early = createPostgresBatchSQL(${JSON.stringify(POSTGRES_URL)}, { copy: 'always' })
      await early.close()
      // A schema that opts in by itself is only seen at its first batch: reported, final.
      const b = createPostgresBatchSQL(${JSON.stringify(POSTGRES_URL)})
      const s = defineSchema({ table: ${JSON.stringify(table)}, columns: ['id'], adapterOptions: { copy: true } })
      const acked = b.submitAndWait(s, { id: 1 }).then(() => ['committed'], (e) => [e.cause?.code ?? e.code, e.reason, e.attempts])
      await b.close()
      console.log(JSON.stringify({ warnings, outcome: await acked }))`
    try {
      await withTable(table, 'id INT', async () => {
        const out = execFileSync(
          process.execPath,
          [
            '--import',
            pathToFileURL(join(dir, 'register.mjs')).href,
            '--input-type=module',
            '-e',
            script,
          ],
          { cwd: import.meta.dirname, encoding: 'utf8' },
        )
        expect(JSON.parse(out.trim().split('\n').at(-1)!)).toEqual({
          warnings: ['BATCHSQL_COPY_UNAVAILABLE'],
          outcome: ['BATCHSQL_INVALID_CONFIG', 'non_retryable', 1],
        })
        expect((await pool.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n).toBe(0)
      })
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('COPY and INSERT keep the same row', () => {
  it.each(['never', 'always'] as const)(
    "copy %s: ignore with dedupe none keeps the first row of a repeated key, whatever the column's collation (the staging table is read in batch order, not only by key)",
    async (copy) => {
      const table = `bsq_copy_ties_${copy}_${process.pid}`
      // Keys BatchSQL orders by code unit ('B' before 'a') and the column's ICU collation the
      // other way, so the staging rows are not already in the server's order.
      await withTable(table, `id TEXT COLLATE "en-x-icu" PRIMARY KEY, round INT`, async () => {
        const batch = createPostgresBatchSQL(pool, {
          copy,
          flushSize: 10_000,
          flushInterval: 60_000,
        })
        const s = defineSchema({
          table,
          columns: { id: 'string', round: 'int' },
          strategy: 'ignore',
          conflictColumns: ['id'],
          dedupe: 'none',
        })
        for (let round = 0; round < 5; round++)
          for (let i = 0; i < 2_000; i++) batch.submit(s, { id: `${i % 2 ? 'B' : 'a'}${i}`, round })
        const result = await batch.close()
        expect(result.failed).toBe(0)
        const { rows } = await pool.query(
          `SELECT round, count(*)::int AS n FROM ${table} GROUP BY round ORDER BY round`,
        )
        expect(rows).toEqual([{ round: 0, n: 2_000 }])
      })
    },
  )
})

describe('rows of a keyless batch that set different columns', () => {
  it.each(['never', 'always'] as const)(
    'copy %s: one INSERT in submit order, the column default where a row left a column out',
    async (copy) => {
      const table = `bsq_defaults_${copy}_${process.pid}`
      await withTable(
        table,
        `id INT PRIMARY KEY, kind TEXT DEFAULT 'k?', note TEXT DEFAULT 'none'`,
        async () => {
          const batch = createPostgresBatchSQL(pool, { copy, flushInterval: 60_000 })
          const s = defineSchema({ table, columns: ['id', 'kind', 'note'], strategy: 'ignore' })
          const rows = [
            { id: 1, kind: 'a' },
            { id: 2, kind: 'b', note: 'n2' },
            { id: 3, note: 'n3' },
            { id: 2, note: 'later' }, // ignored: id 2 came first
          ]
          const preview = batch.preview(s, rows)
          expect(preview).toMatchObject({ statements: 1, parameterCount: 9 })
          expect(preview.sql).toBe(
            `insert into "${table}" ("id", "kind", "note") values ($1, $2, default), ($3, $4, $5), ($6, default, $7), ($8, default, $9) on conflict do nothing`,
          )
          for (const r of rows) batch.submit(s, r)
          expect(await batch.close()).toMatchObject({ committed: 4, failed: 0 })
          const { rows: got } = await pool.query(`SELECT id, kind, note FROM ${table} ORDER BY id`)
          expect(got).toEqual([
            { id: 1, kind: 'a', note: 'none' },
            { id: 2, kind: 'b', note: 'n2' },
            { id: 3, kind: 'k?', note: 'n3' },
          ])
        },
      )
    },
  )
})

describe('a GENERATED ALWAYS identity column', () => {
  it.each(['never', 'insert'] as const)(
    'copy %s: a row that sets it fails alone (428C9, data), on both paths; rows that leave it to the identity commit',
    async (copy) => {
      const table = `bsq_identity_${copy}_${process.pid}`
      await withTable(
        table,
        `id INT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, tag TEXT`,
        async () => {
          const batch = createPostgresBatchSQL(pool, { copy, flushSize: 2, flushInterval: 60_000 })
          const s = defineSchema({ table, columns: ['id', 'tag'] })
          const outcome = (p: Promise<void>) =>
            p.then(
              () => 'written',
              (e: { reason?: string }) => e.reason,
            )
          // Every row sets it: COPY would have written the values (and left the sequence behind).
          const all = [101, 102].map((id) => outcome(batch.submitAndWait(s, { id, tag: 'x' })))
          expect(await Promise.all(all)).toEqual(['data', 'data'])
          const mixed = [{ tag: 'a' }, { id: 103, tag: 'bad' }, { tag: 'c' }].map((r) =>
            outcome(batch.submitAndWait(s, r)),
          )
          await batch.close()
          expect(await Promise.all(mixed)).toEqual(['written', 'data', 'written'])
          // Plain-insert batches run concurrently: which of a and c took id 1 is not fixed.
          const { rows } = await pool.query(`SELECT id, tag FROM ${table} ORDER BY tag`)
          expect(rows.map((r) => r.tag)).toEqual(['a', 'c'])
          expect(rows.map((r) => r.id).sort()).toEqual([1, 2])
        },
      )
    },
  )
})

describe('a value the server cannot allocate for (XX000 "invalid memory alloc request size")', () => {
  it.each(['never', 'always'] as const)(
    'copy %s: fails its own row (data, isolated); the others commit',
    async (copy) => {
      // What a jsonb document of ~200 MB gets (QA); here a trigger asks for the same 1 GiB
      // allocation for one row, at no cost: palloc refuses before allocating anything.
      const table = `bsq_alloc_${copy}_${process.pid}`
      await withTable(table, 'id INT PRIMARY KEY, tag TEXT', async () => {
        await pool.query(`CREATE FUNCTION ${table}_f() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN
            IF NEW.tag = 'huge' THEN PERFORM array_fill(0::bigint, ARRAY[134217727]); END IF;
            RETURN NEW;
          END $$`)
        await pool.query(
          `CREATE TRIGGER ${table}_t BEFORE INSERT ON ${table} FOR EACH ROW EXECUTE FUNCTION ${table}_f()`,
        )
        try {
          const batch = createPostgresBatchSQL(pool, { copy, flushInterval: 60_000 })
          const s = defineSchema({ table, columns: { id: 'int', tag: 'string' } })
          const acks = [1, 2, 3, 4].map((id) =>
            batch.submitAndWait(s, { id, tag: id === 3 ? 'huge' : 'ok' }).then(
              () => 'ok',
              (e: { reason?: string }) => e.reason,
            ),
          )
          await batch.close()
          expect(await Promise.all(acks)).toEqual(['ok', 'ok', 'data', 'ok'])
          const { rows } = await pool.query(`SELECT id FROM ${table} ORDER BY id`)
          expect(rows.map((r) => r.id)).toEqual([1, 2, 4])
        } finally {
          await pool.query(`DROP FUNCTION ${table}_f() CASCADE`)
        }
      })
    },
  )
})

describe('a row past the 1 GiB protocol message limit', () => {
  it('is refused before it is sent and fails alone (data); the others commit', async () => {
    // pg sends a Buffer as binary: 1 GiB of bytea is a message past the 1 GiB the server
    // reads one into; it closed the connection, and every row failed as `connection`.
    const table = `bsq_message_${process.pid}`
    await withTable(table, 'id INT PRIMARY KEY, v BYTEA', async () => {
      const batch = createPostgresBatchSQL(pool, { flushInterval: 60_000 })
      const s = defineSchema({ table, columns: { id: 'int', v: 'bytes' } })
      const acks = [1, 2, 3].map((id) =>
        batch
          .submitAndWait(s, { id, v: id === 2 ? Buffer.alloc(2 ** 30) : Buffer.from([id]) })
          .then(
            () => 'ok',
            (e: { reason?: string; cause?: { message?: string } }) =>
              `${e.reason} ${e.cause?.message?.includes('not sent')}`,
          ),
      )
      await batch.close()
      expect(await Promise.all(acks)).toEqual(['ok', 'data true', 'ok'])
      const { rows } = await pool.query(`SELECT id FROM ${table} ORDER BY id`)
      expect(rows.map((r) => r.id)).toEqual([1, 3])
    })
  })
})

describe('COPY and INSERT write the same rows into tables that fill columns themselves', () => {
  /** Writes `rows` through each path into a fresh `columns` table; returns each path's table. */
  async function bothPaths(
    columns: string,
    setUp: string,
    s: (table: string) => Schema,
    rows: Record<string, unknown>[],
    select: string,
  ) {
    const out: Record<string, unknown> = {}
    for (const copy of ['never', 'always'] as const) {
      const table = `bsq_fills_${copy}_${process.pid}`
      out[copy] = await withTable(table, columns, async () => {
        if (setUp) await pool.query(setUp.replaceAll('$T', table))
        const batch = createPostgresBatchSQL(pool, { copy, flushInterval: 1 })
        const acks = rows.map((r) =>
          batch.submitAndWait(s(table), r as never).then(
            () => 'ok',
            (e: { reason?: string }) => e.reason,
          ),
        )
        const results = await Promise.all(acks)
        await batch.close()
        return { results, rows: (await pool.query(select.replaceAll('$T', table))).rows }
      })
    }
    return out as Record<'never' | 'always', { results: string[]; rows: unknown[] }>
  }

  it('an upsert on a natural key of a table with an identity key, a NOT NULL generated column and a column a trigger fills', async () => {
    const trigger = `CREATE OR REPLACE FUNCTION bsq_fills_who() RETURNS trigger LANGUAGE plpgsql AS
      $$ BEGIN NEW.who := 'trigger'; RETURN NEW; END $$;
      CREATE TRIGGER fill BEFORE INSERT ON $T FOR EACH ROW EXECUTE FUNCTION bsq_fills_who()`
    try {
      for (const strategy of ['ignore', 'update'] as const) {
        const out = await bothPaths(
          `id INT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email TEXT UNIQUE NOT NULL, n INT NOT NULL,
           twice INT GENERATED ALWAYS AS (n * 2) STORED NOT NULL, who TEXT NOT NULL`,
          trigger,
          (table) =>
            defineSchema({ table, columns: ['email', 'n'], strategy, conflictColumns: ['email'] }),
          [
            { email: 'a@x', n: 1 },
            { email: 'b@x', n: 2 },
          ],
          'SELECT email, n, twice, who FROM $T ORDER BY email',
        )
        // The staging table copied every NOT NULL of the table: each row failed there.
        expect(out.always, strategy).toEqual(out.never)
        expect(out.always.results, strategy).toEqual(['ok', 'ok'])
        expect(out.always.rows, strategy).toEqual([
          { email: 'a@x', n: 1, twice: 2, who: 'trigger' },
          { email: 'b@x', n: 2, twice: 4, who: 'trigger' },
        ])
      }
    } finally {
      await pool.query('DROP FUNCTION IF EXISTS bsq_fills_who()')
    }
  })

  it('a row that sets a generated column fails alone on both paths; the others are written', async () => {
    const out = await bothPaths(
      'id INT PRIMARY KEY, a INT, g INT GENERATED ALWAYS AS (a * 2) STORED',
      '',
      (table) => defineSchema({ table, columns: ['id', 'a', 'g'] }),
      [
        { id: 1, a: 1 },
        { id: 2, a: 2, g: 5 },
        { id: 3, a: 3 },
      ],
      'SELECT id, g FROM $T ORDER BY id',
    )
    expect(out.always).toEqual(out.never)
    expect(out.always.results).toEqual(['ok', 'data', 'ok'])
    expect(out.always.rows).toEqual([
      { id: 1, g: 2 },
      { id: 3, g: 6 },
    ])
  })

  it('row-level security: plain inserts take the INSERT path (COPY FROM is refused there), a row the policy refuses fails alone', async () => {
    const role = `bsq_rls_role_${process.pid}`
    await pool.query(`CREATE ROLE ${role}`)
    try {
      // Through a pool whose sessions are the role the policy applies to.
      for (const copy of ['never', 'always'] as const) {
        const table = `bsq_rls_${copy}_${process.pid}`
        await withTable(table, 'id INT PRIMARY KEY, tenant TEXT NOT NULL', async () => {
          await pool.query(`GRANT SELECT, INSERT ON ${table} TO ${role}`)
          await pool.query(`ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY`)
          await pool.query(
            `CREATE POLICY p ON ${table} FOR ALL USING (true) WITH CHECK (tenant = 'ok')`,
          )
          const asRole = new pg.Pool({
            connectionString: POSTGRES_URL,
            max: 2,
            options: `-c role=${role}`,
          })
          try {
            const batch = createPostgresBatchSQL(asRole, { copy, flushInterval: 1 })
            const s = defineSchema({ table, columns: ['id', 'tenant'] })
            const results = await Promise.all(
              [
                { id: 1, tenant: 'ok' },
                { id: 2, tenant: 'bad' },
                { id: 3, tenant: 'ok' },
              ].map((r) =>
                batch.submitAndWait(s, r).then(
                  () => 'ok',
                  (e: { reason?: string }) => e.reason,
                ),
              ),
            )
            await batch.close()
            const { rows } = await pool.query(`SELECT id FROM ${table} ORDER BY id`)
            expect(results, copy).toEqual(['ok', 'data', 'ok'])
            expect(rows, copy).toEqual([{ id: 1 }, { id: 3 }])
          } finally {
            await asRole.end()
          }
        })
      }
    } finally {
      await pool.query(`DROP ROLE ${role}`)
    }
  })
})

describe('a table migrated to a GENERATED ALWAYS identity column while the pipeline runs', () => {
  it('takes the INSERT path once the identity columns are read again (within TABLE_INFO_TTL_MS)', async () => {
    const table = `bsq_identity_later_${process.pid}`
    await withTable(table, 'id BIGINT NOT NULL, tag TEXT', async () => {
      const batch = createPostgresBatchSQL(pool, { copy: 'insert', flushInterval: 1 })
      const s = defineSchema({ table, columns: ['id', 'tag'] })
      const outcome = (row: { id: number; tag: string }) =>
        batch.submitAndWait(s, row).then(
          () => 'written',
          (e: { reason?: string }) => e.reason,
        )
      expect(await outcome({ id: 10, tag: 'before' })).toBe('written')
      await pool.query(`ALTER TABLE ${table} ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY`)
      await new Promise((r) => setTimeout(r, TABLE_INFO_TTL_MS + 100))
      // COPY would store 11 and leave the sequence at 1; INSERT refuses it, as it would have
      // had the pipeline been created after the migration.
      expect(await outcome({ id: 11, tag: 'after' })).toBe('data')
      await batch.close()
      const { rows } = await pool.query(`SELECT id::int AS id FROM ${table} ORDER BY id`)
      expect(rows).toEqual([{ id: 10 }])
    })
  })
})

describe('a connection the server terminated', () => {
  it('is destroyed on release, not handed to the next batch (pg-pool would take it back before its close is seen)', async () => {
    const one = new pg.Pool({ connectionString: POSTGRES_URL, max: 1 })
    one.on('error', () => {})
    try {
      const client = await connectClean(one)
      const pidOf = async (c: pg.PoolClient) =>
        (await c.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number
      const pid = await pidOf(client)
      const err = await client
        .query('SELECT pg_terminate_backend(pg_backend_pid())')
        .catch((e) => e)
      expect(err).toMatchObject({ code: '57P01' })
      client.release()
      // The next checkout is a new session that works, not the dead one: a statement sent on
      // that would fail as a connection lost in flight, its batch reported of unknown outcome.
      const next = await connectClean(one)
      expect(await pidOf(next)).not.toBe(pid)
      next.release()
    } finally {
      await one.end()
    }
  })
})

describe('a pool of yours without an error listener', () => {
  it('survives the server ending an idle connection (pg-pool re-emits it on the pool: an unhandled error event)', async () => {
    const application_name = `bsq_idle_kill_${process.pid}`
    const yours = new pg.Pool({ connectionString: POSTGRES_URL, application_name, max: 2 })
    const table = `bsq_idle_kill_${process.pid}`
    try {
      await withTable(table, 'id INT', async () => {
        const batch = createPostgresBatchSQL(yours, { flushInterval: 1 })
        const s = defineSchema({ table, columns: ['id'] })
        await batch.submitAndWait(s, { id: 1 })
        expect(yours.idleCount).toBeGreaterThan(0)
        // The server ends the idle session, as a restart would: without a listener on the pool,
        // Node throws the 'error' event (vitest reports it, and the run fails).
        const ended = new Promise((resolve) => yours.once('remove', resolve))
        await pool.query(
          'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1',
          [application_name],
        )
        await ended
        await batch.submitAndWait(s, { id: 2 })
        await batch.close()
        const { rows } = await pool.query(`SELECT id FROM ${table} ORDER BY id`)
        expect(rows.map((r) => r.id)).toEqual([1, 2])
      })
    } finally {
      await yours.end()
    }
  })
})

describe('a pool smaller than the load', () => {
  it.each(['never', 'always'] as const)(
    'copy %s: a batch given up on while it waited for the pool writes nothing when the connection comes',
    async (copy) => {
      // A pool of one connection, which the application holds in a transaction for longer
      // than BatchSQL waits: the batch is reported of unknown outcome, and must not then be
      // written behind its caller's back once the connection is free.
      const small = new pg.Pool({ connectionString: POSTGRES_URL, max: 1 })
      const table = `bsq_small_pool_${copy}_${process.pid}`
      try {
        await withTable(table, 'id INT', async () => {
          const app = await small.connect()
          await app.query('BEGIN')
          const batch = createPostgresBatchSQL(small, { copy, timeoutMs: 100, flushInterval: 1 })
          const s = defineSchema({ table, columns: ['id'] })
          const outcome = await batch.submitAndWait(s, { id: 1 }).then(
            () => 'committed',
            (e: { code?: string }) => e.code,
          )
          expect(outcome).toBe('BATCHSQL_OUTCOME_UNKNOWN')
          await app.query('COMMIT')
          app.release()
          await batch.close()
          // The waiting attempt got the connection at last, saw it was given up on, and left.
          await new Promise((r) => setTimeout(r, 100))
          expect((await pool.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n).toBe(0)
        })
      } finally {
        await small.end()
      }
    },
  )
})

describe('UNIQUE NULLS NOT DISTINCT (PostgreSQL 15)', () => {
  // Rows with a null key part are never merged or ordered by BatchSQL (SQL's NULLs are
  // distinct); on such an index (1, NULL) is one row, and a later batch committed before an
  // earlier blocked one, which then overwrote it (QA 2026-11-29). The kysely README's recipe:
  // a keyHash hashing null as a value orders them.
  const t = 'bsq_nulls_not_distinct'
  const run = async (keyHash: boolean) =>
    withTable(t, 'a int, b int, v int, UNIQUE NULLS NOT DISTINCT (a, b)', async () => {
      await pool.query(`INSERT INTO ${t} VALUES (0, 0, 0)`)
      const s = defineSchema({
        table: t,
        columns: { a: 'int', b: 'int', v: 'int' },
        strategy: 'update',
        conflictColumns: ['a', 'b'],
        ...(keyHash
          ? { keyHash: (values, base) => fnv1a(`${values[base]}|${values[base + 1]}`) }
          : {}),
      })
      const batch = createPostgresBatchSQL(pool, { flushSize: 2, flushInterval: 60_000 })
      const locker = await pool.connect()
      try {
        await locker.query('BEGIN')
        await locker.query(`SELECT * FROM ${t} WHERE a = 0 FOR UPDATE`)
        // Batch 1 (a = 0 first in key order) blocks on the locked row.
        const first = batch.submitMany(s, [
          { a: 0, b: 0, v: 0 },
          { a: 1, b: null, v: 1 },
        ])
        await first
        for (let i = 0; i < 100; i++) {
          const { rows } = await pool.query(
            "SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'insert%'",
          )
          if (rows[0].n > 0) break
          await new Promise((r) => setTimeout(r, 20))
        }
        // Batch 2, the later write of (1, NULL) (a second row fills the flush). Unordered, it
        // commits now; ordered, it waits for batch 1: given time to commit if it would.
        const second = batch.submitAndWait(s, { a: 1, b: null, v: 2 })
        batch.submit(s, { a: 2, b: 2, v: 2 })
        await (keyHash ? Promise.race([second, new Promise((r) => setTimeout(r, 500))]) : second)
      } finally {
        await locker.query('ROLLBACK')
        locker.release()
      }
      expect(await batch.close()).toMatchObject({ committed: 4, failed: 0 })
      const { rows } = await pool.query(`SELECT v FROM ${t} WHERE a = 1`)
      return rows.map((r) => r.v)
    })

  it('a keyHash that hashes null as a value keeps the later write last; without one it can lose', async () => {
    expect(await run(true)).toEqual([2])
    expect(await run(false)).toEqual([1])
  })
})
