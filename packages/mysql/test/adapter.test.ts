import { defineSchema } from '@batchsql/core'
import { Kysely, MysqlDialect } from 'kysely'
import mysql from 'mysql2'
import { afterAll, describe, expect, it } from 'vitest'
import {
  classifyMysqlError,
  createMysqlBatchSQL,
  lostInFlightMysql,
  MysqlAdapter,
  parseServerVersion,
} from '../src/index.js'
import { barePool, MYSQL_URL } from './target.js'

const bare = barePool()
afterAll(() => bare.end())
const cols = ['id', 'name', 'n'] as const
const schema = (strategy: 'insert' | 'ignore' | 'replace' | 'update') =>
  defineSchema({
    table: 'my events',
    columns: cols,
    strategy,
    conflictColumns: strategy === 'insert' ? undefined : ['id'],
  })

describe('mysql adapter', () => {
  it('produces the documented SQL per strategy (MariaDB form)', async () => {
    const batch = createMysqlBatchSQL(MYSQL_URL)
    const rows = [{ id: 1, name: 'a', n: 1 }]
    const values = 'into `my events` (`id`, `name`, `n`) values (?, ?, ?)'
    expect(batch.preview(schema('insert'), rows).sql).toBe(`insert ${values}`)
    expect(batch.preview(schema('ignore'), rows).sql).toBe(`insert ignore ${values}`)
    expect(batch.preview(schema('replace'), rows).sql).toBe(`replace ${values}`)
    expect(batch.preview(schema('update'), rows).sql).toBe(
      `insert ${values} on duplicate key update \`name\` = values(\`name\`), \`n\` = values(\`n\`)`,
    )
    expect(batch.preview(schema('update'), [{ id: 1 }]).sql).toBe(
      'insert into `my events` (`id`) values (?) on duplicate key update `id` = `id`',
    )
    await batch.close()
  })

  it('uses the row-alias form on MySQL >= 8.0.19', () => {
    const adapter = new MysqlAdapter()
    adapter.server = parseServerVersion('8.0.36', 64 << 20)
    const db = new Kysely<any>({
      dialect: new MysqlDialect({ pool: mysql.createPool({ uri: MYSQL_URL }) }),
    })
    const shape = {
      schema: schema('update'),
      columns: ['id', 'name', 'n'],
      updateColumns: ['name', 'n'],
    }
    const { sql } = adapter.buildInsert(db, shape, [{ id: 1, name: 'a', n: 1 }]).compile()
    expect(sql).toBe(
      'insert into `my events` (`id`, `name`, `n`) values (?, ?, ?) as `new` on duplicate key update `name` = `new`.`name`, `n` = `new`.`n`',
    )
    void db.destroy()
    expect(parseServerVersion('10.11.6-MariaDB-0+deb12u1', 1).rowAlias).toBe(false)
    expect(parseServerVersion('8.0.18', 1).rowAlias).toBe(false)
    expect(parseServerVersion('9.1.0', 1).rowAlias).toBe(true)
  })

  it.each(['ignore', 'replace'] as const)(
    '%s without conflict columns: rows that set different columns are one statement in submit order, the column default where a row left a column out',
    async (strategy) => {
      const table = `bsq_defaults_${strategy}`
      await bare.query(`DROP TABLE IF EXISTS ${table}`)
      await bare.query(
        `CREATE TABLE ${table} (id INT PRIMARY KEY, kind VARCHAR(9) DEFAULT 'k?', note VARCHAR(9) DEFAULT 'none')`,
      )
      try {
        const batch = createMysqlBatchSQL(MYSQL_URL, { flushInterval: 60_000 })
        const s = defineSchema({ table, columns: ['id', 'kind', 'note'], strategy })
        const rows = [
          { id: 1, kind: 'a' },
          { id: 2, kind: 'b', note: 'n2' },
          { id: 3, note: 'n3' },
          { id: 2, note: 'later' },
        ]
        expect(batch.preview(s, rows)).toMatchObject({ statements: 1, parameterCount: 9 })
        for (const r of rows) batch.submit(s, r)
        expect(await batch.close()).toMatchObject({ committed: 4, failed: 0 })
        const [got] = await bare.query(`SELECT id, kind, note FROM ${table} ORDER BY id`)
        expect(got).toEqual([
          { id: 1, kind: 'a', note: 'none' },
          // ignore keeps the first row of id 2; replace makes it the last, defaults included
          strategy === 'ignore'
            ? { id: 2, kind: 'b', note: 'n2' }
            : { id: 2, kind: 'k?', note: 'later' },
          { id: 3, kind: 'k?', note: 'n3' },
        ])
      } finally {
        await bare.query(`DROP TABLE IF EXISTS ${table}`)
      }
    },
  )

  it('a row that sets a generated column fails alone (1906, data); the other rows of its batch commit', async () => {
    await bare.query('DROP TABLE IF EXISTS bsq_generated')
    await bare.query(
      'CREATE TABLE bsq_generated (id INT PRIMARY KEY, a INT, s INT AS (a * 2) PERSISTENT)',
    )
    try {
      const batch = createMysqlBatchSQL(MYSQL_URL, { flushInterval: 60_000 })
      const s = defineSchema({ table: 'bsq_generated', columns: ['id', 'a', 's'] })
      const outcomes = [
        { id: 1, a: 1 },
        { id: 2, a: 2, s: 9 },
        { id: 3, a: 3 },
      ].map((r) =>
        batch.submitAndWait(s, r).then(
          () => 'written',
          (e: { reason?: string }) => e.reason,
        ),
      )
      await batch.close()
      expect(await Promise.all(outcomes)).toEqual(['written', 'data', 'written'])
      const [got] = await bare.query('SELECT id, s FROM bsq_generated ORDER BY id')
      expect(got).toEqual([
        { id: 1, s: 2 },
        { id: 3, s: 6 },
      ])
    } finally {
      await bare.query('DROP TABLE IF EXISTS bsq_generated')
    }
  })

  it('reads max_allowed_packet and splits a batch larger than it into several statements', {
    timeout: 60_000,
  }, async () => {
    const [[{ packet }]] = (await bare.query(
      'SELECT @@max_allowed_packet AS packet',
    )) as unknown as [[{ packet: string }]]
    await bare.query('DROP TABLE IF EXISTS bsq_packet')
    await bare.query('CREATE TABLE bsq_packet (id INT PRIMARY KEY, body LONGTEXT NOT NULL)')
    const body = 'é'.repeat(256 * 1024) // 512 KiB of UTF-8 per row
    const rows = Math.ceil((Number(packet) * 1.5) / (512 * 1024))
    const batch = createMysqlBatchSQL(MYSQL_URL, {
      flushSize: rows,
      bufferSize: rows,
      flushInterval: 60_000,
    })
    const s = defineSchema({ table: 'bsq_packet', columns: ['id', 'body'] })
    const acks = Array.from({ length: rows }, (_, id) => batch.submitAndWait(s, { id, body }))
    await batch.close()
    await Promise.all(acks)
    const [[count]] = (await bare.query(
      'SELECT COUNT(*) AS n, SUM(CHAR_LENGTH(body)) AS chars FROM bsq_packet',
    )) as unknown as [[{ n: number; chars: string }]]
    await bare.query('DROP TABLE bsq_packet')
    expect(Number(count.n)).toBe(rows)
    expect(Number(count.chars)).toBe(rows * body.length)
    expect(batch.stats().flushes).toBe(1)
  })

  it('a pool you pass (callback or promise) stays open after close()', async () => {
    const b = createMysqlBatchSQL(bare)
    await b.close()
    const [rows] = await bare.query('SELECT 1 AS one')
    expect(rows).toEqual([{ one: 1 }])
  })

  it('a target that is neither a pool, Kysely, a URI nor PoolOptions is refused', async () => {
    // Once read as PoolOptions: BatchSQL wrote through a default pool of its own to localhost.
    for (const target of [{ pool: bare }, new Map()])
      expect(() => createMysqlBatchSQL(target as never)).toThrow(
        expect.objectContaining({ code: 'BATCHSQL_INVALID_CONFIG' }),
      )
    await createMysqlBatchSQL(bare).close()
  })

  it('a URI-made pool is ended on close(); destroying its Kysely instance too is harmless', async () => {
    const s = defineSchema({ table: 'bsq_no_such_table_owned', columns: ['a'] })
    const b1 = createMysqlBatchSQL(MYSQL_URL)
    await b1.submit(s, { a: 1 })
    await b1.close()
    await expect(b1.db.selectNoFrom((eb) => eb.val(1).as('one')).execute()).rejects.toThrow()
    await expect(b1.db.destroy()).resolves.toBeUndefined()
    const b2 = createMysqlBatchSQL(MYSQL_URL)
    await b2.db.selectNoFrom((eb) => eb.val(1).as('one')).execute()
    await b2.db.destroy()
    await expect(b2.close()).resolves.toMatchObject({ accepted: 0 })
  })

  it('classifies real server errors by errno and leaves socket errors to core', async () => {
    const syntax = await bare.query('SELEC 1').then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(classifyMysqlError(syntax)).toEqual({ reason: 'syntax', retryable: false })
    const missing = await bare.query('SELECT * FROM bsq_no_such_table').then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(classifyMysqlError(missing)).toEqual({ reason: 'syntax', retryable: false })
    // KILL QUERY from another session (an operator, pt-kill): rolled back, so retried.
    const victim = await bare.getConnection()
    const [[{ id }]] = (await victim.query('SELECT CONNECTION_ID() AS id')) as unknown as [
      [{ id: number }],
    ]
    const sleeping = victim.query('SELECT SLEEP(30)').then(
      () => undefined,
      (e: unknown) => e,
    )
    // Kill it once it runs (a KILL QUERY before it starts would hit nothing).
    for (let running = 0; running === 0; await new Promise((r) => setTimeout(r, 10))) {
      const [[row]] = (await bare.query(
        "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE ID = ? AND INFO LIKE 'SELECT SLEEP%'",
        [id],
      )) as unknown as [[{ n: number }]]
      running = Number(row.n)
    }
    await bare.query(`KILL QUERY ${Number(id)}`)
    const interrupted = await sleeping
    victim.release()
    expect(interrupted).toMatchObject({ errno: 1317 })
    expect(classifyMysqlError(interrupted)).toEqual({ reason: 'timeout', retryable: true })
    expect(
      classifyMysqlError(Object.assign(new Error('x'), { code: 'PROTOCOL_CONNECTION_LOST' })),
    ).toBeUndefined()
    // Lost in flight (the statement may have committed) only when no reply said otherwise.
    const lost = Object.assign(new Error('x'), { code: 'PROTOCOL_CONNECTION_LOST' })
    expect(lostInFlightMysql(lost)).toBe(true)
    expect(lostInFlightMysql(syntax)).toBe(false)
    expect(lostInFlightMysql(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBe(false)
    // A failed write (EPIPE) never delivered the statement: retried, not in doubt.
    expect(lostInFlightMysql(Object.assign(new Error('x'), { code: 'EPIPE' }))).toBe(false)
  })
})
