/**
 * The rows scenarios write, generated deterministically from (worker, seq), and their
 * canonical text form. The verifier compares the canonical lines read back from the
 * database with the lines of the rows expected to be there: a missing row, an extra row or
 * a wrong value in any column changes the checksum.
 */
export interface AppRow {
  id: number
  worker?: number
  seq?: number
  payload?: string | null
  amount?: bigint
  score?: number
  created?: Date
}

export const COLUMNS = ['id', 'worker', 'seq', 'payload', 'amount', 'score', 'created'] as const

const BASE_TIME = Date.UTC(2026, 0, 1)
const NULL = '∅'

/** A full row; `payloadBytes` pads the payload (memory-pressure scenarios). */
export function makeRow(id: number, worker: number, seq: number, payloadBytes = 0): AppRow {
  const base = `w${worker}-s${seq}-ü`
  return {
    id,
    worker,
    seq,
    payload: payloadBytes > base.length ? base + 'x'.repeat(payloadBytes - base.length) : base,
    amount: BigInt(id) * 1_000_003n + BigInt(seq),
    score: (id % 1000) / 8,
    created: new Date(BASE_TIME + id * 1000 + (seq % 1000)),
  }
}

/** One row as the text the checksum is computed over. */
export function canonicalLine(r: AppRow): string {
  const v = (x: unknown) =>
    x === undefined || x === null ? NULL : x instanceof Date ? String(x.getTime()) : String(x)
  return `${r.id}|${v(r.worker)}|${v(r.seq)}|${v(r.payload)}|${v(r.amount)}|${v(r.score)}|${v(r.created)}`
}

/** Applies `row` to the expected state the way the schema's strategy does. */
export function applyExpected(
  state: Map<number, AppRow>,
  row: AppRow,
  strategy: 'insert' | 'update' | 'replace',
): void {
  const prev = state.get(row.id)
  if (prev === undefined || strategy === 'replace') {
    state.set(row.id, { ...row })
    return
  }
  if (strategy === 'update') {
    const next = { ...prev }
    for (const c of COLUMNS) if (row[c] !== undefined) (next as Record<string, unknown>)[c] = row[c]
    state.set(row.id, next)
  }
}
