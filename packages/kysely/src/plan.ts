/**
 * Turns a batch into what the SQL is built from: duplicates coalesced, rows in conflict-key
 * order, values converted for the driver, and rows grouped by the set of columns they set
 * (a column a row did not set is left to the database default on insert and never
 * overwritten on update, so rows that set different columns cannot share one statement;
 * rows not merged by key keep their order, one statement per run of one column set).
 *
 * Hot path: values are stored flat per group (row-major, as they are bound), so a chunk's
 * parameters are one `slice()`, and rows that set every column (the common case) skip the
 * per-row shape computation.
 */
import {
  type Batch,
  batchSize,
  type Coalesced,
  type ColumnType,
  coalesce,
  coalesces,
  foldIntegerKeys,
  type IntegerKeyOrder,
  integerKeyOrder,
  keyOrderWithRounds,
  rowKey,
  type Schema,
} from '@batchsql/core'
import type { DriverRow, InsertShape, SqlDialectAdapter } from './dialect.js'
import { UNSET } from './unset.js'

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
  /** Some values are `UNSET` (written DEFAULT): a text compiled for it is never reused. */
  readonly defaults?: boolean
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
  defaults?: boolean
  /** Which of several rows tying on a key this group holds (see `KeyOrder.rounds`). */
  round: number
}

/** The types conflict keys are compared by: decimals as text where the dialect stores them so. */
function keyTypesOf(types: readonly ColumnType[], adapter: SqlDialectAdapter) {
  if (adapter.decimalsAsText !== true || !types.includes('decimal')) return types
  return types.map((t) => (t === 'decimal' ? 'string' : t))
}

export function planBatch(batch: Batch, adapter: SqlDialectAdapter): BatchPlan {
  const { schema } = batch
  // Upserts go in conflict-key order so that concurrent batches lock rows in the same order
  // (fewer deadlocks). Rows without a key keep their place at the end, in submit order.
  const size = batchSize(batch)
  const ordered = schema.strategy !== 'insert' && schema.conflictIndexes.length > 0 && size > 1
  // Integer keys (most upsert batches) are ordered by number; repeated ones are folded run by
  // run, without coalesce()'s key string, map entry and Request per row.
  const keyed = ordered ? integerKeyOrder(batch) : undefined
  // A replace that deletes and inserts keeps a key's last row whole, as one-by-one would.
  const wholeRows = schema.strategy === 'replace' && adapter.replaceDeletes === true
  // An ignore that skips an invalid row without an error (SQLite's OR IGNORE on NOT NULL)
  // merges nothing: keep-first put a later valid row of the key into a first one the database
  // then skipped, and both were reported written, neither stored (QA 2026-11-29). Sent as
  // they are, in submit order, the database keeps the first valid one, as one by one.
  const dedupe =
    schema.strategy === 'ignore' && schema.dedupe === 'first' && adapter.ignoreSkipsInvalidRows
      ? 'none'
      : schema.dedupe
  const folded =
    keyed?.runs !== undefined && coalesces(schema, size, dedupe)
      ? foldIntegerKeys(batch, keyed as Required<IntegerKeyOrder>, dedupe, wholeRows)
      : undefined
  // Folded rows are already in key order.
  let order = folded === undefined ? keyed?.order : undefined
  let rounds: number[] | undefined
  // Most batches have nothing to coalesce (plain inserts): skip building per-row source lists.
  const keyTypes = keyTypesOf(schema.types, adapter)
  let merged =
    keyed === undefined && coalesces(schema, size, dedupe)
      ? coalesce(batch.rows, schema, dedupe, wholeRows, keyTypes)
      : undefined
  if (merged !== undefined && ordered) {
    // coalesce() already computed each kept row's key. A merged row stands where the row
    // whose values it keeps was submitted (its last row; its first under `dedupe: 'first'`),
    // for keys that tie in the order (keyOrder()).
    const by = (m: Coalesced) => {
      const ties = m.sources.map((s) => (dedupe === 'first' ? s[0]! : s[s.length - 1]!))
      return keyOrderWithRounds(m.keys, ties)
    }
    ;({ order, rounds } = by(merged))
    // Rows that tie on a key in two spellings (rare): merged by their own key only between
    // rows of the tie in that spelling (`inTieOrder`).
    if (rounds !== undefined && merged.duplicates > 0) {
      merged = coalesce(batch.rows, schema, dedupe, wholeRows, keyTypes, true)
      ;({ order, rounds } = by(merged))
    }
  }
  // Flat values (a flat batch, or the folded rows) are read in place: row i starts at i * ncols.
  const flat = folded?.values ?? (merged === undefined ? batch.values : undefined)
  const rows = flat !== undefined ? undefined : merged === undefined ? batch.rows : merged.rows
  const count = folded?.sources.length ?? (rows === undefined ? size : rows.length)
  /** The batch rows each planned row stands for, when rows were folded. */
  const sourceLists = folded?.sources ?? merged?.sources
  const types = schema.types
  const ncols = types.length
  if (ordered && order === undefined && folded === undefined && count > 1) {
    // Rows not merged (`dedupe: 'none'`): each stands for itself.
    ;({ order, rounds } = keyOrderWithRounds(
      Array.from({ length: count }, (_, i) =>
        rows === undefined
          ? rowKey(flat!, schema.conflictIndexes, keyTypes, i * ncols)
          : rowKey(rows[i]!.values, schema.conflictIndexes, keyTypes),
      ),
    ))
  }
  const full = Array.from({ length: ncols }, (_, i) => i)
  if (flat !== undefined && bindsAsBuffered(flat, types, adapter)) {
    // Nothing to convert or split by shape: the buffered array is the parameters (processors
    // only read a plan's values), or, for an upsert, its rows copied in key order.
    return {
      groups: [
        {
          shape: shapeOf(schema, full),
          key: `${schema.id}:*`,
          width: ncols,
          values: order === undefined ? (flat as unknown[]) : permuteRows(flat, order, ncols),
          sources: sourceLists ?? order ?? identity(count),
        },
      ],
      rows: count,
      duplicates: folded?.duplicates ?? 0,
    }
  }
  // Rows that are not merged by key (no conflict columns, or `dedupe: 'none'`) may still
  // collide in the database (a unique index the schema does not name, a repeated key), where
  // the statement order decides which row wins or fails: such a batch keeps its row order,
  // a new statement at each change of column set, as writing the rows one by one would.
  const keepsRuns = !coalesces(schema, size, dedupe)
  // Rows that tie on a key (ones a database may store as one row that BatchSQL keeps apart:
  // 'ADA' and 'ada', '5' and 5n) must reach it in submit order. In one statement the key order
  // keeps them so, but rows that set different columns go to different statements, which ran
  // in the order their first rows came: a later row setting fewer columns could be written
  // first and lose (QA 2026-11-29). So the n-th row of a tie whose rows set different columns
  // goes into round n, and a round's statements run after the round before. A tie whose rows
  // all set the same columns stays in one statement (in rounds, 'A'/'a' alternating made a
  // statement per row, and on PostgreSQL's COPY path a staging table each).
  const roundOf =
    keepsRuns || rounds === undefined
      ? undefined
      : mixedTieRounds(rounds, (n) => {
          const i = order === undefined ? n : order[n]!
          const values = rows === undefined ? flat! : rows[i]!.values
          const base = rows === undefined ? i * ncols : 0
          let mask = 0n
          for (let c = 0; c < ncols; c++)
            if (values[base + c] !== undefined) mask |= 1n << BigInt(c)
          return mask
        })
  /** The group each set of columns is filling; `built`: every group, in statement order. */
  const groups = new Map<string, Building>()
  const built: Building[] = []
  let last: Building | undefined
  const group = (key: string, mask: number[], round: number): Building => {
    const id = round === 0 ? key : `${round}/${key}`
    let g = groups.get(id)
    if (g === undefined || (keepsRuns && g !== last)) {
      const first = g === undefined && round === 0
      g = {
        shape: shapeOf(schema, mask),
        key: `${schema.id}:${key}`,
        width: mask.length,
        mask,
        // The group of rows that set every column (most batches: all of them) gets its array
        // at full size up front; grown by push() it would be copied ~log(n) times (SQLite narrow
        // rows: +4-9 % in an interleaved A/B).
        values: first && mask.length === ncols ? new Array(count * ncols) : [],
        filled: 0,
        sources: [],
        round,
      }
      groups.set(id, g)
      built.push(g)
    }
    return g
  }
  for (let n = 0; n < count; n++) {
    const i = order === undefined ? n : order[n]!
    const values = rows === undefined ? flat! : rows[i]!.values
    const base = rows === undefined ? i * ncols : 0
    const round = roundOf === undefined ? 0 : roundOf[n]!
    let set = 0
    for (let c = 0; c < ncols; c++) if (values[base + c] !== undefined) set++
    let g: Building
    if (set === ncols) {
      g =
        last !== undefined && last.width === ncols && last.round === round
          ? last
          : group('*', full, round)
    } else {
      const mask: number[] = []
      for (let c = 0; c < ncols; c++) if (values[base + c] !== undefined) mask.push(c)
      g = group(mask.join(','), mask, round)
    }
    last = g
    const out = g.values
    const mask = g.mask
    let at = g.filled
    for (let m = 0; m < mask.length; m++) {
      const c = mask[m]!
      out[at++] = adapter.toDriverValue(values[base + c]!, types[c]!)
    }
    g.filled = at
    g.sources.push(sourceLists === undefined ? i : sourceLists[i]!)
  }
  // Stable: within a round, statements keep the order their first rows came in.
  if (roundOf !== undefined) built.sort((a, b) => a.round - b.round)
  // Runs of several column sets, where the dialect can write DEFAULT: one statement instead
  // (a statement per run made a keyless insert whose rows alternate between two column sets
  // about 6x slower on PostgreSQL).
  const fills =
    keepsRuns &&
    built.length > 1 &&
    adapter.valuesTakeDefault === true &&
    (schema.strategy === 'insert' || schema.strategy === 'ignore' || wholeRows)
  if (fills) built.splice(0, built.length, withDefaults(built, schema, full))
  const planned: PlannedGroup[] = []
  for (const g of built) {
    g.values.length = g.filled
    planned.push({
      shape: g.shape,
      key: g.key,
      width: g.width,
      values: g.values,
      sources: g.sources,
      ...(g.defaults ? { defaults: true } : {}),
    })
  }
  return {
    groups: planned,
    rows: count,
    duplicates: folded?.duplicates ?? merged?.duplicates ?? 0,
  }
}

/**
 * `rounds` (see `KeyOrder.rounds`) kept for the ties whose rows set different columns, 0 for
 * the others, or undefined when no tie mixes column sets. `maskAt(n)`: the columns the row at
 * position `n` sets. Ties are runs of positions, each after the first numbered from 1.
 */
function mixedTieRounds(
  rounds: readonly number[],
  maskAt: (n: number) => bigint,
): number[] | undefined {
  let out: number[] | undefined
  for (let start = 0; start < rounds.length; ) {
    let end = start + 1
    while (end < rounds.length && rounds[end]! > 0) end++
    if (end - start > 1) {
      const first = maskAt(start)
      let mixed = false
      for (let n = start + 1; n < end && !mixed; n++) mixed = maskAt(n) !== first
      if (mixed) {
        out ??= new Array<number>(rounds.length).fill(0)
        for (let n = start; n < end; n++) out[n] = rounds[n]!
      }
    }
    start = end
  }
  return out
}

/** Runs of rows of several column sets as one group of every column, `UNSET` where a row set none. */
function withDefaults(runs: readonly Building[], schema: Schema, full: number[]): Building {
  const width = full.length
  const values: unknown[] = []
  const sources: Source[] = []
  for (const g of runs) {
    const rows = g.sources.length
    for (let r = 0; r < rows; r++) {
      const base = values.length
      for (let c = 0; c < width; c++) values.push(UNSET)
      for (let m = 0; m < g.mask.length; m++) values[base + g.mask[m]!] = g.values[r * g.width + m]
      sources.push(g.sources[r]!)
    }
  }
  return {
    shape: shapeOf(schema, full),
    key: `${schema.id}:*default`,
    width,
    mask: full,
    values,
    filled: values.length,
    sources,
    defaults: true,
    round: 0,
  }
}

/** `[0, 1, …, n - 1]`. A loop: `Array.from({ length: n }, fn)` was 8x slower on this path. */
function identity(n: number): number[] {
  const out = new Array<number>(n)
  for (let i = 0; i < n; i++) out[i] = i
  return out
}

/** Row-major `values` with row `order[n]` as row `n`. */
function permuteRows(
  values: readonly unknown[],
  order: readonly number[],
  width: number,
): unknown[] {
  const out = new Array<unknown>(order.length * width)
  let at = 0
  for (let n = 0; n < order.length; n++) {
    const base = order[n]! * width
    for (let c = 0; c < width; c++) out[at++] = values[base + c]
  }
  return out
}

/**
 * Whether a flat batch's values can be bound as they are: every one a string or a number (so
 * every row sets every column) that the adapter passes through unchanged for its column.
 */
function bindsAsBuffered(
  values: readonly unknown[],
  types: readonly ColumnType[],
  adapter: SqlDialectAdapter,
): boolean {
  if (adapter.passesThrough === undefined) return false
  for (const t of types) if (!adapter.passesThrough(t)) return false
  for (let i = 0; i < values.length; i++) {
    const t = typeof values[i]
    if (t !== 'string' && t !== 'number') return false
  }
  return true
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
