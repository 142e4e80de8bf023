export type WorkloadName = 'narrow' | 'wide' | 'upsert'

export interface Workload {
  readonly name: WorkloadName
  readonly columns: readonly string[]
  /** SQL column types, aligned with `columns` (the same text works on SQLite, PostgreSQL, MariaDB). */
  readonly types: readonly string[]
  readonly upsert: boolean
}

const NARROW = ['id', 'name', 'score']
const WIDE = ['id', ...Array.from({ length: 19 }, (_, i) => `c${i + 1}`)]

export const WORKLOADS: Record<WorkloadName, Workload> = {
  narrow: {
    name: 'narrow',
    columns: NARROW,
    types: ['BIGINT', 'VARCHAR(64)', 'DOUBLE PRECISION'],
    upsert: false,
  },
  wide: {
    name: 'wide',
    columns: WIDE,
    types: WIDE.map((c, i) => (c === 'id' ? 'BIGINT' : i % 2 === 0 ? 'BIGINT' : 'VARCHAR(64)')),
    upsert: false,
  },
  upsert: {
    name: 'upsert',
    columns: NARROW,
    types: ['BIGINT', 'VARCHAR(64)', 'DOUBLE PRECISION'],
    upsert: true,
  },
}

export type Row = Record<string, string | number>

/**
 * Row i of a workload. In `upsert`, every 10th row repeats the key of the row 1,001 before
 * it: a different flush batch, so bare multi-row upserts need no in-batch dedup and two
 * in-flight batches only ever wait on an earlier one (no lock cycle).
 */
export function makeRow(w: Workload, i: number): Row {
  const id = w.upsert && i % 10 === 9 && i >= 1000 ? i - 1001 : i
  if (w.name === 'wide') return wideRow(id, i)
  return { id, name: `name-${i}`, score: i / 7 }
}

/**
 * A wide row as an object literal, the way service code or `JSON.parse` makes one. Not built
 * by assigning row['c' + c] in a loop: V8 turns an object given that many computed keys into
 * a dictionary-mode object, which no JSON payload or literal is, and which every contender
 * then reads at a different cost (enumerating its keys costs 3x; measured in the notes of
 * docs/performance.md). Column c holds `i * c` for even c, `v{i}-{c}` for odd c.
 */
function wideRow(id: number, i: number): Row {
  return {
    id,
    c1: `v${i}-1`,
    c2: i * 2,
    c3: `v${i}-3`,
    c4: i * 4,
    c5: `v${i}-5`,
    c6: i * 6,
    c7: `v${i}-7`,
    c8: i * 8,
    c9: `v${i}-9`,
    c10: i * 10,
    c11: `v${i}-11`,
    c12: i * 12,
    c13: `v${i}-13`,
    c14: i * 14,
    c15: `v${i}-15`,
    c16: i * 16,
    c17: `v${i}-17`,
    c18: i * 18,
    c19: `v${i}-19`,
  }
}

/** Distinct keys a workload of `rows` rows leaves in the table. */
export function distinctKeys(w: Workload, rows: number): number {
  if (!w.upsert) return rows
  let dups = 0
  for (let i = 1000; i < rows; i++) if (i % 10 === 9) dups++
  return rows - dups
}

/**
 * The keys an upsert run must leave holding their later row's `name`: every repeated key whose
 * two rows one producer wrote, in order (across two producers' slices the order is whichever
 * arrived last), with that name.
 */
export function lastWrites(w: Workload, rows: number, producers: number): Map<number, string> {
  const expected = new Map<number, string>()
  if (!w.upsert) return expected
  const starts = Array.from({ length: producers }, (_, p) => slice(rows, producers, p)[0])
  const producerOf = (i: number) => {
    let p = producers - 1
    while (starts[p]! > i) p--
    return p
  }
  for (let i = 1009; i < rows; i += 10) {
    const id = i - 1001
    if (producerOf(i) === producerOf(id)) expected.set(id, String(makeRow(w, i).name))
  }
  return expected
}

/**
 * Wraps a bare loop's write so that a chunk starts only once the in-flight chunks that write
 * one of its keys are done (a map shared by every producer): last write wins, as BatchSQL
 * keeps it. Without it the bare upsert loops' 4 statements in flight let chunk N+2 reach a
 * repeated key before chunk N, whose older row then won: QA (2026-11-30) found 5–8 % of the
 * repeated keys holding the older value after bare pg and mysql2 runs, which the row count
 * could not see. A hand-written loop that must not lose the later write pays for this too.
 */
export function keyOrdered(
  write: (chunk: Row[]) => Promise<unknown>,
): (chunk: Row[]) => Promise<unknown> {
  const last = new Map<unknown, Promise<unknown>>()
  return (chunk) => {
    const before = new Set<Promise<unknown>>()
    for (const r of chunk) {
      const p = last.get(r.id)
      if (p !== undefined) before.add(p)
    }
    const done = before.size === 0 ? write(chunk) : Promise.all(before).then(() => write(chunk))
    const settled = done.then(
      () => {},
      () => {},
    )
    for (const r of chunk) last.set(r.id, settled)
    void settled.then(() => {
      for (const r of chunk) if (last.get(r.id) === settled) last.delete(r.id)
    })
    return done
  }
}

/**
 * At most `limit` calls of `fn` running at once across every producer (a pool does this for
 * pg and mysql2; an ioredis connection has none, and 10 producers each keeping one pipeline in
 * flight had 10: QA 2026-11-30).
 */
export function sharedLimit<T>(
  limit: number,
  fn: (t: T) => Promise<unknown>,
): (t: T) => Promise<unknown> {
  let running = 0
  const waiting: (() => void)[] = []
  return async (t) => {
    // A finishing call hands its slot to the first waiter, so none is taken in between.
    if (running < limit) running++
    else await new Promise<void>((go) => waiting.push(go))
    try {
      return await fn(t)
    } finally {
      const next = waiting.shift()
      if (next) next()
      else running--
    }
  }
}

/** The contiguous slice `[start, end)` of producer `p` of `producers`. */
export function slice(rows: number, producers: number, p: number): [number, number] {
  return [Math.floor((rows * p) / producers), Math.floor((rows * (p + 1)) / producers)]
}

export function* chunks(w: Workload, start: number, end: number, size: number): Generator<Row[]> {
  for (let i = start; i < end; i += size) {
    const chunk: Row[] = []
    for (let j = i; j < Math.min(end, i + size); j++) chunk.push(makeRow(w, j))
    yield chunk
  }
}

/** Runs `producers` async producers, each over its slice, and waits for all. */
export async function produce(
  rows: number,
  producers: number,
  body: (start: number, end: number) => Promise<void>,
): Promise<void> {
  await Promise.all(Array.from({ length: producers }, (_, p) => body(...slice(rows, producers, p))))
}

/** Runs `fn` over `items` keeping at most `limit` promises in flight. */
export async function inFlight<T>(
  items: Iterable<T>,
  limit: number,
  fn: (t: T) => Promise<unknown>,
): Promise<void> {
  const running = new Set<Promise<unknown>>()
  for (const item of items) {
    const p = fn(item).finally(() => running.delete(p))
    running.add(p)
    if (running.size >= limit) await Promise.race(running)
  }
  await Promise.all(running)
}

export function uniqueName(prefix: string): string {
  // Fixed length: a Redis key carries it, and a longer key is more bytes for the server.
  const pid = String(process.pid).padStart(7, '0')
  return `${prefix}_${pid}_${Math.random().toString(36).slice(2, 8).padEnd(6, '0')}`
}
