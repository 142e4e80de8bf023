import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createPostgresBatchSQL } from '@batchsql/postgres'
import knexFactory from 'knex'
import pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'
import pgPromise from 'pg-promise'
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

export const URL = process.env.POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

export function ddl(table: string, w: Workload): string {
  const cols = w.columns.map((c, i) => `"${c}" ${w.types[i]}${c === 'id' ? ' PRIMARY KEY' : ''}`)
  return `CREATE TABLE "${table}" (${cols.join(', ')})`
}

function upsertTail(w: Workload): string {
  if (!w.upsert) return ''
  const set = w.columns.filter((c) => c !== 'id').map((c) => `"${c}" = EXCLUDED."${c}"`)
  return ` ON CONFLICT ("id") DO UPDATE SET ${set.join(', ')}`
}

/** Shared setup/count/teardown on a pg pool of IN_FLIGHT connections. */
function onPool(prefix: string, run: TableRun<pg.Pool>): Contender {
  const pool = new pg.Pool({ connectionString: URL, max: IN_FLIGHT })
  const table = uniqueName(prefix)
  return {
    async setup(w) {
      await pool.query(ddl(table, w))
    },
    run: (w, rows, producers) => run(pool, table, w, rows, producers),
    async count() {
      return Number((await pool.query(`SELECT COUNT(*) AS n FROM "${table}"`)).rows[0].n)
    },
    async names(ids) {
      const { rows } = await pool.query(`SELECT id, name FROM "${table}" WHERE id = ANY($1)`, [ids])
      return new Map(rows.map((r: { id: string; name: string }) => [Number(r.id), r.name]))
    },
    async teardown() {
      await pool.query(`DROP TABLE IF EXISTS "${table}"`)
      await pool.end()
    },
  }
}

/** The multi-row INSERT of `n` rows the bare contender runs (upsert tail for upserts). */
export function insertSql(table: string, w: Workload, n: number): string {
  const k = w.columns.length
  const tuples = Array.from(
    { length: n },
    (_, r) => `(${w.columns.map((_, c) => `$${r * k + c + 1}`).join(', ')})`,
  )
  return `INSERT INTO "${table}" (${quoteList(w.columns)}) VALUES ${tuples.join(', ')}${upsertTail(w)}`
}

/** The limit: multi-row parameterised INSERTs, IN_FLIGHT statements at once on the pool. */
export function postgresBare(): Contender {
  return onPool('bench_pg', async (pool, table, w, rows, producers) => {
    const full = insertSql(table, w, BATCH)
    const perProducer = Math.max(1, Math.ceil(IN_FLIGHT / producers))
    const write = (chunk: Row[]) =>
      pool.query(
        chunk.length === BATCH ? full : insertSql(table, w, chunk.length),
        chunk.flatMap((r) => w.columns.map((c) => r[c])),
      )
    const send = w.upsert ? keyOrdered(write) : write
    await produce(rows, producers, (start, end) =>
      inFlight(chunks(w, start, end, BATCH), perProducer, send),
    )
  })
}

function copyText(v: string | number): string {
  // Generated values hold no tab, newline or backslash; a general COPY writer must escape them.
  return String(v)
}

/** COPY FROM STDIN, one stream per producer slice (IN_FLIGHT streams at most). */
export function postgresCopy(): Contender {
  return onPool('bench_pg_copy', async (pool, table, w, rows, producers) => {
    const streams = Math.min(producers === 1 ? IN_FLIGHT : producers, IN_FLIGHT)
    await produce(rows, streams, async (start, end) => {
      const client = await pool.connect()
      try {
        const lines = Readable.from(
          (function* () {
            for (const chunk of chunks(w, start, end, BATCH)) {
              yield chunk
                .map(
                  (r) => `${w.columns.map((c) => copyText(r[c] as string | number)).join('\t')}\n`,
                )
                .join('')
            }
          })(),
        )
        await pipeline(
          lines,
          client.query(copyFrom(`COPY "${table}" (${quoteList(w.columns)}) FROM STDIN`)),
        )
      } finally {
        client.release()
      }
    })
  })
}

/** knex `batchInsert`; upserts use `insert().onConflict().merge()` per chunk. */
export function postgresKnex(): Contender {
  const knex = knexFactory({ client: 'pg', connection: URL, pool: { min: 0, max: IN_FLIGHT } })
  return onPool('bench_pg_knex', async (_pool, table, w, rows, producers) => {
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

/** pg-promise `helpers.insert` multi-row statements of BATCH rows, one per producer at a time. */
export function postgresPgp(): Contender {
  const pgp = pgPromise()
  const db = pgp({ connectionString: URL, max: IN_FLIGHT })
  return onPool('bench_pg_pgp', async (_pool, table, w, rows, producers) => {
    try {
      const cs = new pgp.helpers.ColumnSet([...w.columns], { table })
      const tail = w.upsert
        ? ` ON CONFLICT ("id") DO UPDATE SET ${cs.assignColumns({ from: 'EXCLUDED', skip: 'id' })}`
        : ''
      await produce(rows, producers, async (start, end) => {
        for (const chunk of chunks(w, start, end, BATCH))
          await db.none(pgp.helpers.insert(chunk, cs) + tail)
      })
    } finally {
      pgp.end()
    }
  })
}

const COPY_BATCH = 5000

/** BatchSQL (@batchsql/postgres): INSERT path, or COPY path with `copy`. */
export function postgresBatchSQL(
  copy: 'never' | 'always' = 'never',
  feed: Feed = 'submit',
): Contender {
  return onPool(`bench_pg_bsql_${copy}`, async (pool, table, w, rows, producers) => {
    // COPY pays off per statement, not per row: each batch is one COPY and one commit, so
    // the COPY contender uses the larger batches the adapter's README recommends for it
    // (bare COPY above streams each producer's whole slice in one COPY).
    const flushSize = copy === 'always' ? COPY_BATCH : BATCH
    const bsql = createPostgresBatchSQL(pool, {
      flushSize,
      bufferSize: Math.max(10_000, flushSize * 2 * IN_FLIGHT),
      concurrency: IN_FLIGHT,
      copy,
      rowsPerStatement: BATCH,
    })
    await submitAll(bsql, schemaFor(table, w), w, rows, producers, feed)
  })
}
