import { type AppRow, canonicalLine } from '../rows.js'

/** The columns of the app's table, typed for `defineSchema`. */
export const SQL_COLUMNS = {
  id: 'int',
  worker: 'int',
  seq: 'int',
  payload: 'string',
  amount: 'bigint',
  score: 'float',
  created: 'date',
} as const

/** Reads a row as a driver returns it (numbers as strings, dates as Date or text). */
export function lineFromDb(r: Record<string, unknown>): string {
  const num = (v: unknown) => (v === null || v === undefined ? undefined : Number(v))
  const created = r.created
  const row: AppRow = {
    id: Number(r.id),
    worker: num(r.worker),
    seq: num(r.seq),
    payload: r.payload as string | null,
    amount: r.amount === null || r.amount === undefined ? undefined : BigInt(r.amount as string),
    score: num(r.score),
    created:
      created === null || created === undefined
        ? undefined
        : created instanceof Date
          ? created
          : new Date(String(created).replace(' ', 'T').replace(/(\d)$/, '$1Z')),
  }
  return canonicalLine(row)
}
