/**
 * Bare pg, no BatchSQL: the same 500-row batches (4 in flight on a pool of 4) written as the
 * multi-row `INSERT … VALUES ($1, $2, $3), …` BatchSQL sends, as `INSERT … SELECT * FROM
 * unnest($1::bigint[], $2::varchar[], $3::float8[])` (three array parameters), and as
 * `INSERT … SELECT … FROM json_populate_recordset(NULL::t, $1)` (one JSON parameter).
 * Rounds alternate the order. Whether a statement form with fewer parameters would be worth
 * building (docs/performance.md, "Not done"): the server parses, plans and binds 1,500
 * parameters per VALUES statement, and shares the machine's cores with the client.
 * Usage: node bench/statement-forms.mjs [rows=200000] [upsert|plain] [rounds=3]
 */
import pg from 'pg'

const URL = process.env.POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const ROWS = Number(process.argv[2] ?? 200_000)
const UPSERT = (process.argv[3] ?? 'upsert') === 'upsert'
const ROUNDS = Number(process.argv[4] ?? 3)
const BATCH = 500
const TABLE = `bench_forms_${process.pid}`
const TAIL = UPSERT
  ? ' ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, score = EXCLUDED.score'
  : ''
const pool = new pg.Pool({ connectionString: URL, max: 4 })

// The bench app's upsert workload: every 10th row repeats the key of the row 1,001 before it.
const row = (i) => [UPSERT && i % 10 === 9 && i >= 1000 ? i - 1001 : i, `name-${i}`, i / 7]

const FORMS = {
  values(rows) {
    const tuples = rows.map((_, r) => `($${r * 3 + 1}, $${r * 3 + 2}, $${r * 3 + 3})`)
    return {
      text: `INSERT INTO ${TABLE} (id, name, score) VALUES ${tuples.join(', ')}${TAIL}`,
      values: rows.flat(),
    }
  },
  unnest(rows) {
    return {
      text: `INSERT INTO ${TABLE} (id, name, score) SELECT * FROM unnest($1::bigint[], $2::varchar[], $3::float8[])${TAIL}`,
      values: [0, 1, 2].map((c) => rows.map((r) => r[c])),
    }
  },
  json(rows) {
    const objects = rows.map(([id, name, score]) => ({ id, name, score }))
    return {
      text: `INSERT INTO ${TABLE} (id, name, score) SELECT id, name, score FROM json_populate_recordset(NULL::${TABLE}, $1)${TAIL}`,
      values: [JSON.stringify(objects)],
    }
  },
}

async function run(form) {
  await pool.query(`DROP TABLE IF EXISTS ${TABLE}`)
  await pool.query(
    `CREATE TABLE ${TABLE} (id BIGINT PRIMARY KEY, name VARCHAR(64), score DOUBLE PRECISION)`,
  )
  const t0 = performance.now()
  const inFlight = new Set()
  for (let start = 0; start < ROWS; start += BATCH) {
    const rows = []
    for (let i = start; i < Math.min(ROWS, start + BATCH); i++) rows.push(row(i))
    const p = pool.query(FORMS[form](rows)).then(() => inFlight.delete(p))
    inFlight.add(p)
    if (inFlight.size >= 4) await Promise.race(inFlight)
  }
  await Promise.all(inFlight)
  const rate = ROWS / ((performance.now() - t0) / 1000)
  const { rows } = await pool.query(`SELECT count(*)::int AS n FROM ${TABLE}`)
  const expected = UPSERT ? ROWS - Math.floor((ROWS - 1000) / 10) : ROWS
  if (rows[0].n !== expected) throw new Error(`${form}: ${rows[0].n} rows, ${expected} expected`)
  return rate
}

try {
  console.log(`| round | ${Object.keys(FORMS).join(' | ')} | unnest / values | json / values |`)
  console.log('|---|---|---|---|---|---|')
  for (let r = 1; r <= ROUNDS; r++) {
    const order = r % 2 ? Object.keys(FORMS) : Object.keys(FORMS).reverse()
    const rate = {}
    for (const form of order) rate[form] = await run(form)
    const k = (x) => `${Math.round(x / 1000)} k`
    console.log(
      `| ${r} | ${k(rate.values)} | ${k(rate.unnest)} | ${k(rate.json)} | ${(rate.unnest / rate.values).toFixed(2)} | ${(rate.json / rate.values).toFixed(2)} |`,
    )
  }
} finally {
  await pool.query(`DROP TABLE IF EXISTS ${TABLE}`)
  await pool.end()
}
