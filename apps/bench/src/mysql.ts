import { createMysqlBatchSQL } from '@batchsql/mysql'
import knexFactory from 'knex'
import mysql2 from 'mysql2'
import mysql from 'mysql2/promise'
import { type Feed, schemaFor, submitAll } from './batchsql.js'
import { BATCH, type Contender, IN_FLIGHT, quoteList, type TableRun } from './contender.js'
import {
  chunks,
  inFlight,
  keyOrdered,
  makeRow,
  produce,
  type Row,
  uniqueName,
  type Workload,
} from './workloads.js'

export const URL = process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test'

export function ddl(table: string, w: Workload): string {
  const cols = w.columns.map((c, i) => `\`${c}\` ${w.types[i]}${c === 'id' ? ' PRIMARY KEY' : ''}`)
  return `CREATE TABLE \`${table}\` (${cols.join(', ')}) ENGINE=InnoDB`
}

function onPool(prefix: string, run: TableRun<mysql.Pool>): Contender {
  const pool = mysql.createPool({ uri: URL, connectionLimit: IN_FLIGHT })
  const table = uniqueName(prefix)
  return {
    async setup(w) {
      await pool.query(ddl(table, w))
    },
    run: (w, rows, producers) => run(pool, table, w, rows, producers),
    async count() {
      const [r] = await pool.query(`SELECT COUNT(*) AS n FROM \`${table}\``)
      return Number((r as { n: number }[])[0]?.n)
    },
    async names(ids) {
      if (ids.length === 0) return new Map()
      const [r] = await pool.query(`SELECT id, name FROM \`${table}\` WHERE id IN (?)`, [ids])
      return new Map((r as { id: number; name: string }[]).map((x) => [Number(x.id), x.name]))
    },
    async teardown() {
      await pool.query(`DROP TABLE IF EXISTS \`${table}\``)
      await pool.end()
    },
  }
}

/** The bare contender's multi-row INSERT (mysql2 expands `VALUES ?`), upsert tail for upserts. */
export function insertSql(table: string, w: Workload): string {
  const tail = w.upsert
    ? ` ON DUPLICATE KEY UPDATE ${w.columns
        .filter((c) => c !== 'id')
        .map((c) => `\`${c}\` = VALUES(\`${c}\`)`)
        .join(', ')}`
    : ''
  return `INSERT INTO \`${table}\` (${quoteList(w.columns, '`')}) VALUES ?${tail}`
}

/** The limit: multi-row INSERTs (mysql2 `VALUES ?` client-side expansion), IN_FLIGHT at once. */
export function mysqlBare(): Contender {
  return onPool('bench_my', async (pool, table, w, rows, producers) => {
    const sql = insertSql(table, w)
    const perProducer = Math.max(1, Math.ceil(IN_FLIGHT / producers))
    const write = (chunk: Row[]) => pool.query(sql, [chunk.map((r) => w.columns.map((c) => r[c]))])
    const send = w.upsert ? keyOrdered(write) : write
    await produce(rows, producers, (start, end) =>
      inFlight(chunks(w, start, end, BATCH), perProducer, send),
    )
  })
}

export function mysqlKnex(): Contender {
  const knex = knexFactory({ client: 'mysql2', connection: URL, pool: { min: 0, max: IN_FLIGHT } })
  return onPool('bench_my_knex', async (_pool, table, w, rows, producers) => {
    try {
      await produce(rows, producers, async (start, end) => {
        if (w.upsert) {
          for (const chunk of chunks(w, start, end, BATCH))
            await knex(table).insert(chunk).onConflict('id').merge()
          return
        }
        const all: Row[] = []
        for (let i = start; i < end; i++) all.push(makeRow(w, i))
        await knex.batchInsert(table, all, BATCH)
      })
    } finally {
      await knex.destroy()
    }
  })
}

/** BatchSQL (@batchsql/mysql). */
export function mysqlBatchSQL(feed: Feed = 'submit'): Contender {
  const pool = mysql2.createPool({ uri: URL, connectionLimit: IN_FLIGHT })
  const contender = onPool('bench_my_bsql', async (_pool, table, w, rows, producers) => {
    const bsql = createMysqlBatchSQL(pool, {
      flushSize: BATCH,
      concurrency: IN_FLIGHT,
      rowsPerStatement: BATCH,
    })
    await submitAll(bsql, schemaFor(table, w), w, rows, producers, feed)
  })
  return {
    ...contender,
    async teardown() {
      await contender.teardown()
      await pool.end()
    },
  }
}
