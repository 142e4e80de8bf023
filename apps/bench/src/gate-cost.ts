/**
 * What waiting for an earlier batch costs an upsert workload, measured on the bare drivers so
 * that BatchSQL's own CPU is not in the figure. BatchSQL never starts a batch before an
 * earlier one that touches the same keys has finished (last write wins); in the `upsert`
 * workload batch N repeats keys of batch N-2. Three ways to run the same 500-row upserts,
 * 4 in flight on a pool of 4, interleaved round by round:
 *
 * - `free`: no ordering (the bench's bare limit);
 * - `gate`: batch N starts once batch N-2 has committed (what BatchSQL does);
 * - `locks`: batch N starts once batch N-2's statement has returned inside an open
 *   transaction (its row locks taken, so the server makes N wait for N-2's COMMIT): the
 *   same order, kept by the server's locks instead of the client. Costs BEGIN and COMMIT.
 *
 * Prints rows/s and the time-averaged number of statements in flight.
 *   tsx src/gate-cost.ts [postgres|mariadb] [rows] [rounds]
 */
import mysql from 'mysql2/promise'
import pg from 'pg'
import { BATCH, IN_FLIGHT } from './contender.js'
import * as my from './mysql.js'
import * as pgBench from './postgres.js'
import { makeRow, uniqueName, WORKLOADS } from './workloads.js'

type Mode = 'free' | 'gate' | 'locks'

interface Conn {
  query(sql: string, values?: unknown[]): Promise<unknown>
  release(): void
}

/** A server as the bare contenders write to it: their DDL and statements, on a pool of 4. */
interface Target {
  connect(): Promise<Conn>
  exec(sql: string): Promise<unknown>
  ddl: typeof pgBench.ddl
  /** The bare contender's upsert of `rows` and its bound values. */
  upsert(table: string, rows: unknown[][]): [string, unknown[]]
  end(): Promise<void>
}

const w = WORKLOADS.upsert

function postgres(): Target {
  const pool = new pg.Pool({ connectionString: pgBench.URL, max: IN_FLIGHT })
  return {
    connect: () => pool.connect(),
    exec: (sql) => pool.query(sql),
    ddl: pgBench.ddl,
    upsert: (table, rows) => [pgBench.insertSql(table, w, rows.length), rows.flat()],
    end: () => pool.end(),
  }
}

function mariadb(): Target {
  const pool = mysql.createPool({ uri: my.URL, connectionLimit: IN_FLIGHT })
  return {
    connect: () => pool.getConnection(),
    exec: (sql) => pool.query(sql),
    ddl: my.ddl,
    upsert: (table, rows) => [my.insertSql(table, w), [rows]],
    end: () => pool.end(),
  }
}

/** A promise with its resolver, one per batch and milestone. */
function latch(): { promise: Promise<void>; open: () => void } {
  let open = (): void => {}
  const promise = new Promise<void>((resolve) => {
    open = resolve
  })
  return { promise, open }
}

async function run(
  t: Target,
  mode: Mode,
  rows: number,
): Promise<{ rowsPerSec: number; inFlight: number }> {
  const table = uniqueName('bench_gate')
  await t.exec(t.ddl(table, w))
  const batches = Math.ceil(rows / BATCH)
  const locked = Array.from({ length: batches }, latch)
  const done = Array.from({ length: batches }, latch)
  let inFlight = 0
  let area = 0
  let last = performance.now()
  const count = (d: number): void => {
    const now = performance.now()
    area += inFlight * (now - last)
    last = now
    inFlight += d
  }
  const t0 = performance.now()
  let next = 0
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      for (let b = next++; b < batches; b = next++) {
        const batch: unknown[][] = []
        for (let i = b * BATCH; i < Math.min(rows, (b + 1) * BATCH); i++) {
          const r = makeRow(w, i)
          batch.push(w.columns.map((c) => r[c]))
        }
        batch.sort((x, y) => (x[0] as number) - (y[0] as number)) // as BatchSQL sends upserts
        const wait = mode === 'gate' ? done[b - 2] : mode === 'locks' ? locked[b - 2] : undefined
        if (wait) await wait.promise
        const conn = await t.connect()
        try {
          count(1)
          if (mode === 'locks') await conn.query('BEGIN')
          await conn.query(...t.upsert(table, batch))
          locked[b]?.open()
          if (mode === 'locks') await conn.query('COMMIT')
          count(-1)
        } finally {
          conn.release()
        }
        done[b]?.open()
      }
    }),
  )
  const ms = performance.now() - t0
  count(0)
  await t.exec(`DROP TABLE ${table}`)
  return { rowsPerSec: (rows / ms) * 1000, inFlight: area / ms }
}

const backend = process.argv[2] ?? 'postgres'
const rows = Number(process.argv[3] ?? 300_000)
const rounds = Number(process.argv[4] ?? 4)
const target = backend === 'mariadb' ? mariadb() : postgres()
try {
  for (let r = 0; r < rounds; r++) {
    const line: string[] = []
    let base = 0
    for (const mode of ['free', 'gate', 'locks'] as const) {
      const m = await run(target, mode, rows)
      base ||= m.rowsPerSec
      line.push(
        `${mode} ${Math.round(m.rowsPerSec / 1000)} k rows/s (${(m.rowsPerSec / base).toFixed(2)}x, ${m.inFlight.toFixed(2)} in flight)`,
      )
    }
    console.log(`${backend} round ${r + 1}: ${line.join('; ')}`)
  }
} finally {
  await target.end()
}
