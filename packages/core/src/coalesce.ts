import { Request } from './request.js'
import type { AnyRow, DedupeMode, Schema } from './schema.js'
import { rowKey } from './values.js'

export interface Coalesced<Row extends AnyRow = AnyRow> {
  /** One row per distinct conflict key (plus every row with a null key), first-seen order. */
  readonly rows: Request<Row>[]
  /** For each kept row, the indexes of the input rows it stands for. */
  readonly sources: number[][]
  /** For each kept row, its conflict key (`rowKey()`; undefined when a key part is null). */
  readonly keys: (string | undefined)[]
  /** Input rows folded into another row. */
  readonly duplicates: number
}

/**
 * Whether `coalesce()` can fold anything in a batch of `rows` rows of this schema; when it
 * cannot, callers may skip it and treat row `i` as standing for itself.
 */
export function coalesces(schema: Schema, rows: number, mode: DedupeMode = schema.dedupe): boolean {
  return mode !== 'none' && schema.conflictIndexes.length > 0 && rows >= 2
}

/**
 * Coalesces rows that share a conflict key, as the schema's `dedupe` mode says (or `mode`).
 * Keys are normalised per column type (1, 1n and "1" in an integer column are one key);
 * rows whose key has a null part are never merged, as SQL treats NULLs as distinct.
 * Input rows are never mutated: a merged row is a new Request.
 */
export function coalesce<Row extends AnyRow>(
  rows: readonly Request<Row>[],
  schema: Schema<Row>,
  mode: DedupeMode = schema.dedupe,
): Coalesced<Row> {
  const idx = schema.conflictIndexes
  if (!coalesces(schema, rows.length, mode)) {
    return {
      rows: rows.slice(),
      sources: rows.map((_, i) => [i]),
      keys: rows.map((r) => (idx.length > 0 ? rowKey(r.values, idx, schema.types) : undefined)),
      duplicates: 0,
    }
  }
  const byKey = new Map<string, number>()
  const out: Request<Row>[] = []
  const sources: number[][] = []
  const keys: (string | undefined)[] = []
  let duplicates = 0
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!
    const key = rowKey(row.values, idx, schema.types)
    const at = key === undefined ? undefined : byKey.get(key)
    if (at === undefined) {
      if (key !== undefined) byKey.set(key, out.length)
      out.push(row)
      sources.push([i])
      keys.push(key)
      continue
    }
    duplicates++
    sources[at]!.push(i)
    if (mode === 'first') continue
    const merged = new Request(schema)
    const prev = out[at]!.values
    const next = row.values
    for (let c = 0; c < next.length; c++)
      merged.values[c] = next[c] === undefined ? prev[c] : next[c]
    out[at] = merged
  }
  return { rows: out, sources, keys, duplicates }
}
