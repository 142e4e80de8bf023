import type { ColumnDdl, ConformanceTarget } from './target.js'

export interface ColumnSpec {
  name: string
  type: keyof ColumnDdl
  notNull?: boolean
}

let counter = 0

/** A uniquely named table for one test, created through the bare driver. */
export async function createTable(
  target: ConformanceTarget,
  columns: readonly ColumnSpec[],
  primaryKey: readonly string[],
  baseName = 'bsc',
): Promise<string> {
  const name = `${baseName}_${process.pid}_${++counter}`
  const q = (s: string) => target.quote(s)
  const cols = columns.map(
    (c) => `${q(c.name)} ${target.types[c.type]}${c.notNull ? ' NOT NULL' : ''}`,
  )
  if (primaryKey.length > 0) cols.push(`PRIMARY KEY (${primaryKey.map(q).join(', ')})`)
  await target.exec(`DROP TABLE IF EXISTS ${q(name)}`)
  await target.exec(`CREATE TABLE ${q(name)} (${cols.join(', ')})`)
  return name
}

export async function dropTable(target: ConformanceTarget, name: string): Promise<void> {
  await target.exec(`DROP TABLE IF EXISTS ${target.quote(name)}`)
}

/** Reads a whole table ordered by `orderBy`, through the bare driver. */
export async function readTable(
  target: ConformanceTarget,
  name: string,
  orderBy: string,
): Promise<Record<string, unknown>[]> {
  return target.query(`SELECT * FROM ${target.quote(name)} ORDER BY ${target.quote(orderBy)}`)
}

export async function countRows(target: ConformanceTarget, name: string): Promise<number> {
  const rows = await target.query(
    `SELECT COUNT(*) AS ${target.quote('n')} FROM ${target.quote(name)}`,
  )
  return Number(rows[0]?.n)
}
