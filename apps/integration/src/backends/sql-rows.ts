import { defineSchema } from '@batchsql/core'
import { type AppRow, canonicalLine } from '../rows.js'
import type { Backend, Strategy } from './backend.js'

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

/** The app's rows as every SQL backend submits them: one schema per table, the row as is. */
export const SQL_ROW_MODEL: Pick<Backend, 'schema' | 'toSubmit' | 'idOf'> = {
  schema: (table, strategy: Strategy) =>
    defineSchema({
      table,
      columns: SQL_COLUMNS,
      strategy,
      conflictColumns: strategy === 'insert' ? undefined : ['id'],
    }),
  toSubmit: (_table, row) => row as unknown as Record<string, unknown>,
  idOf: (submitted) => Number(submitted.id),
}

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
  // The id as stored: one past 2^53 (a stray row's) is not exact as a number.
  const line = canonicalLine(row)
  return `${String(r.id)}${line.slice(line.indexOf('|'))}`
}

/** The largest id a BIGINT column holds (2^63 - 1). */
const MAX_ID = 2n ** 63n - 1n

/**
 * Reads a table in pages of id ranges (`from <= id <= last`, 10,000 ids) rather than keyset
 * pages (`id > last LIMIT n`): a keyless table can hold two rows with one id, and a keyset page
 * that ended between them would skip the second, hiding the very duplicate the verifier looks
 * for. Each page starts at the next id that exists (`first(from)`: the least id >= `from`, or
 * of the whole table without one), never at the end of the previous range: a stray row with a
 * far-off id (10^12) then costs one page, not 10^8 empty ones (hours of queries). A page ends
 * at 2^63 - 1 at the latest and the read with it: an id past BIGINT's range is out of range on
 * PostgreSQL, and on MariaDB compares so that the next page starts on the same row for ever.
 * Ids near -2^63 need no care: a page only ever goes up from an id that exists.
 */
export async function readByIdRanges(
  first: (from?: string) => Promise<unknown>,
  page: (from: string, last: string) => Promise<Record<string, unknown>[]>,
  onLine: (line: string) => void,
): Promise<void> {
  const step = 10_000n
  let next: string | undefined
  for (;;) {
    const lo = await first(next)
    if (lo === null || lo === undefined) return
    const from = BigInt(String(lo))
    const last = from > MAX_ID - step ? MAX_ID : from + step - 1n
    for (const r of await page(String(from), String(last))) onLine(lineFromDb(r))
    if (last === MAX_ID) return
    next = String(last + 1n)
  }
}

/** A dialect's SQL types for the app's columns. */
export interface SqlTypes {
  id: string
  int: string
  text: string
  bigint: string
  float: string
  date: string
}

/** The app's table as SQL column definitions; `id` is the primary key unless `keyless`. */
export function tableColumns(types: SqlTypes, keyless: boolean): string {
  const id = keyless ? `id ${types.id} NOT NULL` : `id ${types.id} PRIMARY KEY`
  return `${id}, worker ${types.int}, seq ${types.int}, payload ${types.text} NOT NULL, amount ${types.bigint}, score ${types.float}, created ${types.date}`
}
