/**
 * Turns a batch into what the SQL is built from: duplicates coalesced, rows in conflict-key
 * order, values converted for the driver, and rows grouped by the set of columns they set
 * (a column a row did not set is left to the database default on insert and never
 * overwritten on update, so rows that set different columns cannot share one statement).
 *
 * Hot path: values are stored flat per group (row-major, as they are bound), so a chunk's
 * parameters are one `slice()`, and rows that set every column (the common case) skip the
 * per-row shape computation.
 */
import {
  type Batch,
  coalesce,
  coalesces,
  integerKeyOrder,
  keyOrder,
  rowKey,
  type Schema,
} from '@batchsql/core'
import type { DriverRow, InsertShape, SqlDialectAdapter } from './dialect.js'

export interface PlannedGroup {
  readonly shape: InsertShape
  /** Cache key of the shape: schema id and the set columns. */
  readonly key: string
  /** Columns per row (`shape.columns.length`). */
  readonly width: number
  /** Driver values, row-major. */
  readonly values: unknown[]
  /**
   * For each row, the batch row it stands for, or the batch rows when duplicates were folded
   * into it (a bare index spares an array per row on the common path; read with `sourcesOf`).
   */
  readonly sources: Source[]
}

type Source = number | readonly number[]

/** The indexes of the batch rows that row `r` of a group stands for. */
export function sourcesOf(g: PlannedGroup, r: number): readonly number[] {
  const s = g.sources[r]!
  return typeof s === 'number' ? [s] : s
}

export interface BatchPlan {
  readonly groups: readonly PlannedGroup[]
  readonly rows: number
  readonly duplicates: number
}

export const rowCount = (g: PlannedGroup): number => g.sources.length

/** Row `i` of a group as its own array (for the fast paths and for building SQL). */
export function rowAt(g: PlannedGroup, i: number): DriverRow {
  return g.values.slice(i * g.width, (i + 1) * g.width)
}

function shapeOf(schema: Schema, mask: readonly number[]): InsertShape {
  const columns = mask.map((i) => schema.columns[i]!)
  let updateColumns: string[] = []
  if (schema.strategy === 'update') {
    updateColumns = schema.updateColumns.filter((c) => columns.includes(c))
  } else if (schema.strategy === 'replace') {
    updateColumns = columns.filter((c) => !schema.conflictColumns.includes(c))
  }
  return { schema, columns, updateColumns }
}

interface Building {
  shape: InsertShape
  key: string
  width: number
  mask: number[]
  values: unknown[]
  /** Values written so far (`values` may be allocated ahead). */
  filled: number
  sources: Source[]
}

export function planBatch(batch: Batch, adapter: SqlDialectAdapter): BatchPlan {
  const { schema } = batch
  // Upserts go in conflict-key order so that concurrent batches lock rows in the same order
  // (fewer deadlocks). Rows without a key keep their place at the end, in submit order.
  const ordered =
    schema.strategy !== 'insert' && schema.conflictIndexes.length > 0 && batch.rows.length > 1
  // Distinct integer keys (most upsert batches): nothing to coalesce, ordered by number.
  let order = ordered ? integerKeyOrder(batch.rows, schema) : undefined
  // Most batches have nothing to coalesce (plain inserts): skip building per-row source lists.
  const merged =
    order === undefined && coalesces(schema, batch.rows.length)
      ? coalesce(batch.rows, schema)
      : undefined
  const rows = merged === undefined ? batch.rows : merged.rows
  if (ordered && order === undefined && rows.length > 1) {
    // coalesce() already computed each kept row's key.
    order = keyOrder(
      merged?.keys ?? rows.map((r) => rowKey(r.values, schema.conflictIndexes, schema.types)),
    )
  }
  const types = schema.types
  const ncols = types.length
  const groups = new Map<string, Building>()
  const group = (key: string, mask: number[]): Building => {
    let g = groups.get(key)
    if (g === undefined) {
      g = {
        shape: shapeOf(schema, mask),
        key: `${schema.id}:${key}`,
        width: mask.length,
        mask,
        // The group of rows that set every column (most batches: all of them) gets its array
        // at full size up front; grown by push() it would be copied ~log(n) times (SQLite narrow
        // rows: +4-9 % in an interleaved A/B).
        values: mask.length === ncols ? new Array(rows.length * ncols) : [],
        filled: 0,
        sources: [],
      }
      groups.set(key, g)
    }
    return g
  }
  const full = Array.from({ length: ncols }, (_, i) => i)
  let last: Building | undefined
  for (let n = 0; n < rows.length; n++) {
    const i = order === undefined ? n : order[n]!
    const values = rows[i]!.values
    let set = 0
    for (let c = 0; c < ncols; c++) if (values[c] !== undefined) set++
    let g: Building
    if (set === ncols) {
      g = last !== undefined && last.width === ncols ? last : group('*', full)
    } else {
      const mask: number[] = []
      for (let c = 0; c < ncols; c++) if (values[c] !== undefined) mask.push(c)
      g = group(mask.join(','), mask)
    }
    last = g
    const out = g.values
    const mask = g.mask
    let at = g.filled
    for (let m = 0; m < mask.length; m++) {
      const c = mask[m]!
      out[at++] = adapter.toDriverValue(values[c]!, types[c]!)
    }
    g.filled = at
    g.sources.push(merged === undefined ? i : merged.sources[i]!)
  }
  const planned: PlannedGroup[] = []
  for (const g of groups.values()) {
    g.values.length = g.filled
    planned.push({
      shape: g.shape,
      key: g.key,
      width: g.width,
      values: g.values,
      sources: g.sources,
    })
  }
  return { groups: planned, rows: rows.length, duplicates: merged?.duplicates ?? 0 }
}

/** A plan's row: its group and its index in that group (poison-row isolation splits these). */
export interface RowRef {
  readonly group: number
  readonly row: number
}

export function allRows(groups: readonly PlannedGroup[]): RowRef[] {
  const out: RowRef[] = []
  groups.forEach((g, gi) => {
    for (let r = 0; r < g.sources.length; r++) out.push({ group: gi, row: r })
  })
  return out
}

/** The plan restricted to some of its rows, groups and order kept. */
export function subPlan(groups: readonly PlannedGroup[], refs: readonly RowRef[]): PlannedGroup[] {
  const picked = groups.map(() => [] as number[])
  for (const ref of refs) picked[ref.group]!.push(ref.row)
  const out: PlannedGroup[] = []
  groups.forEach((g, gi) => {
    const rows = picked[gi]!.sort((a, b) => a - b)
    if (rows.length === 0) return
    const values: unknown[] = []
    for (const r of rows) for (let c = 0; c < g.width; c++) values.push(g.values[r * g.width + c])
    out.push({ ...g, values, sources: rows.map((r) => g.sources[r]!) })
  })
  return out
}
