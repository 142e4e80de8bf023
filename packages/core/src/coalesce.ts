import type { Batch } from './contract.js'
import { keyForOrder } from './key-order.js'
import { Request } from './request.js'
import type { AnyRow, DedupeMode, Schema } from './schema.js'
import { type ColumnType, rowKey, type Value } from './values.js'

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
 * Input rows are never mutated: a merged row is a new Request. `wholeRows`: keep-last keeps
 * the last row as it is (a sink whose replace resets the columns a row does not set).
 * `keyTypes`: the column types keys are normalised by, when the sink stores a type otherwise
 * than its name says (SQLite keeps a decimal as the text given: compare as `string`).
 * `inTieOrder`: for a batch where rows tie on a key (`keyOrderWithRounds()`: 'ADA' and 'ada',
 * '5' and 5, one row to the database, two keys here), a row merges into the latest kept row of
 * its tie only when that row has its very key: merged past a tied row of another spelling
 * between them (7, '7', 7), the first 7's values would be written after the '7' it preceded.
 */
export function coalesce<Row extends AnyRow>(
  rows: readonly Request<Row>[],
  schema: Schema<Row>,
  mode: DedupeMode = schema.dedupe,
  wholeRows = false,
  keyTypes: readonly ColumnType[] = schema.types,
  inTieOrder = false,
): Coalesced<Row> {
  const idx = schema.conflictIndexes
  if (!coalesces(schema, rows.length, mode)) {
    return {
      rows: rows.slice(),
      sources: rows.map((_, i) => [i]),
      keys: rows.map((r) => (idx.length > 0 ? rowKey(r.values, idx, keyTypes) : undefined)),
      duplicates: 0,
    }
  }
  const byKey = new Map<string, number>()
  const out: Request<Row>[] = []
  const sources: number[][] = []
  const keys: (string | undefined)[] = []
  let duplicates = 0
  let insertOnly: boolean[] | undefined
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!
    const key = rowKey(row.values, idx, keyTypes)
    // With `inTieOrder`, the map holds each tie's latest kept row.
    const slot = key === undefined || !inTieOrder ? key : keyForOrder(key)
    let at = slot === undefined ? undefined : byKey.get(slot)
    if (at !== undefined && keys[at] !== key) at = undefined
    if (at === undefined) {
      if (slot !== undefined) byKey.set(slot, out.length)
      out.push(row)
      sources.push([i])
      keys.push(key)
      continue
    }
    duplicates++
    sources[at]!.push(i)
    if (mode === 'first') continue
    if (wholeRows) {
      out[at] = row
      continue
    }
    const merged = new Request(schema)
    const prev = out[at]!.values
    const next = row.values
    insertOnly ??= insertOnlyColumns(schema)
    for (let c = 0; c < next.length; c++)
      merged.values[c] = next[c] === undefined || insertOnly[c] ? prev[c] : next[c]
    out[at] = merged
  }
  return { rows: out, sources, keys, duplicates }
}

/**
 * The columns only an insert writes, by position: an `update` schema's columns that are
 * neither update nor conflict columns. Rows of one key merged keep the first row's values
 * there, as writing them one by one would (the first inserts, the later ones update only the
 * update columns); they took the last row's, so a `first_seen` column written once got the
 * last row's value (QA 2026-11-29, every dialect).
 */
function insertOnlyColumns(schema: Schema): boolean[] {
  const only = schema.types.map(() => false)
  if (schema.strategy !== 'update') return only
  for (let c = 0; c < only.length; c++) only[c] = true
  for (const c of schema.updateIndexes) only[c] = false
  for (const c of schema.conflictIndexes) only[c] = false
  return only
}

/** A batch whose conflict keys are all safe integers, in key order (`integerKeyOrder()`). */
export interface IntegerKeyOrder {
  /** Batch row indexes by key, then submit order. */
  readonly order: number[]
  /** Present when a key repeats: where each run of one key starts in `order`, then its length. */
  readonly runs?: number[]
}

/**
 * The batch's rows in conflict-key order when every row has a safe-integer key in a single
 * non-string conflict column (most upsert batches), else undefined. Callers skip
 * `coalesce()` and its key string, map entry and source list per row: a batch without repeated
 * keys is sent in `order`, one with repeats is folded run by run (`foldIntegerKeys()`). The
 * order is the one `keyOrder()` gives for the same keys.
 */
export function integerKeyOrder(batch: Batch): IntegerKeyOrder | undefined {
  const { schema } = batch
  const idx = schema.conflictIndexes
  if (idx.length !== 1 || schema.types[idx[0]!] === 'string') return undefined
  const c = idx[0]!
  // A flat batch is read in place, without building its rows.
  const flat = batch.values
  const width = schema.types.length
  const rows = flat === undefined ? batch.rows : undefined
  const n = flat === undefined ? rows!.length : flat.length / width
  const keys = new Float64Array(n)
  let min = Number.POSITIVE_INFINITY
  let max = Number.NEGATIVE_INFINITY
  let ascending = true
  for (let i = 0; i < n; i++) {
    const v = flat === undefined ? rows![i]!.values[c] : flat[i * width + c]
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) return undefined
    keys[i] = v
    if (i > 0 && !(v > keys[i - 1]!)) ascending = false
    if (v < min) min = v
    if (v > max) max = v
  }
  const order = new Array<number>(n)
  // Keys already strictly ascending (rows from a sequence or a sorted source): nothing to sort.
  if (ascending) {
    for (let i = 0; i < n; i++) order[i] = i
    return { order }
  }
  sortByKey(keys, order, min, max)
  // -0 and 0 are one key, as in rowKey().
  let repeats = false
  for (let i = 1; i < n && !repeats; i++) repeats = keys[order[i]!] === keys[order[i - 1]!]
  if (!repeats) return { order }
  const runs = [0]
  for (let i = 1; i < n; i++) if (keys[order[i]!] !== keys[order[i - 1]!]) runs.push(i)
  runs.push(n)
  return { order, runs }
}

/**
 * Fills `order` with `0 .. n-1` sorted by `keys`, then index. Not `order.sort()` with a
 * comparator: that calls back into JS for each of ~n log n comparisons, and was most of this
 * function's cost. Upsert batches mostly arrive nearly in key order (new keys ascending, with
 * updates of earlier keys among them), so first try splitting them into two ascending
 * sequences and merging those, in one pass; else sort `(key - min) * n + index`, key and index
 * packed into one safe integer, with the typed array's native numeric sort; only keys too far
 * apart for that (more than 2^53 / n) use the comparator.
 */
function sortByKey(keys: Float64Array, order: number[], min: number, max: number): void {
  if (mergeTwoRuns(keys, order)) return
  const n = keys.length
  if ((max - min + 1) * n > Number.MAX_SAFE_INTEGER) {
    for (let i = 0; i < n; i++) order[i] = i
    order.sort((a, b) => keys[a]! - keys[b]! || a - b)
    return
  }
  const packed = new Float64Array(n)
  // -0 and 0 pack to the same number, as they are one key.
  for (let i = 0; i < n; i++) packed[i] = (keys[i]! - min) * n + i
  packed.sort()
  for (let i = 0; i < n; i++) order[i] = packed[i]! % n
}

/**
 * `sortByKey()` for a batch that is two ascending sequences interleaved: the rows that keep
 * raising the key, and the others, whose keys must not go down. False (and `order` left to the
 * caller) otherwise, or when the others are more than a quarter of the batch.
 */
function mergeTwoRuns(keys: Float64Array, order: number[]): boolean {
  const n = keys.length
  const main = new Array<number>(n)
  const rest = new Array<number>(n >> 2)
  let m = 0
  let r = 0
  for (let i = 0; i < n; i++) {
    const k = keys[i]!
    if (m === 0 || k > keys[main[m - 1]!]!) {
      main[m++] = i
    } else {
      if (r === rest.length || (r > 0 && k < keys[rest[r - 1]!]!)) return false
      rest[r++] = i
    }
  }
  // Merge; on equal keys the earlier row first (keyOrder() is stable).
  let a = 0
  let b = 0
  for (let o = 0; o < n; o++) {
    if (b === r) order[o] = main[a++]!
    else if (a === m) order[o] = rest[b++]!
    else {
      const x = main[a]!
      const y = rest[b]!
      const d = keys[x]! - keys[y]!
      if (d < 0 || (d === 0 && x < y)) {
        order[o] = x
        a++
      } else {
        order[o] = y
        b++
      }
    }
  }
  return true
}

/** A batch folded by `foldIntegerKeys()`. */
export interface FoldedRows {
  /** The kept rows' values, row-major, `schema.columns.length` per row. */
  readonly values: (Value | undefined)[]
  /** For each kept row, the batch row it is, or the batch rows folded into it (submit order). */
  readonly sources: (number | number[])[]
  readonly duplicates: number
}

/**
 * `coalesce()` for a batch with repeated integer keys, on `integerKeyOrder()`'s runs: the
 * same rows (keep-last: each column keeps the last value set for it, a column no later row
 * set keeps the earlier value, a column only an insert writes the first row's; keep-first: the
 * first row), in key order, with no key string, map entry or Request per row.
 */
export function foldIntegerKeys(
  batch: Batch,
  keyed: Required<IntegerKeyOrder>,
  mode: DedupeMode = batch.schema.dedupe,
  wholeRows = false,
): FoldedRows {
  const width = batch.schema.types.length
  const insertOnly = insertOnlyColumns(batch.schema)
  const flat = batch.values
  const rows = flat === undefined ? batch.rows : undefined
  const { order, runs } = keyed
  const kept = runs.length - 1
  const values = new Array<Value | undefined>(kept * width)
  const sources = new Array<number | number[]>(kept)
  for (let r = 0; r < kept; r++) {
    const from = runs[r]!
    const to = runs[r + 1]!
    const at = r * width
    // Keep-first copies only the run's first row; keep-last lays every row over the previous
    // (or, with `wholeRows`, copies only the last).
    const first = mode !== 'first' && wholeRows ? to - 1 : from
    const last = mode === 'first' ? from + 1 : to
    for (let k = first; k < last; k++) {
      const i = order[k]!
      const src = flat ?? rows![i]!.values
      const base = flat === undefined ? 0 : i * width
      for (let c = 0; c < width; c++) {
        const v = src[base + c]
        if (k === first || (v !== undefined && !insertOnly[c])) values[at + c] = v
      }
    }
    sources[r] = to - from === 1 ? order[from]! : order.slice(from, to)
  }
  return { values, sources, duplicates: order.length - kept }
}

/** A `rowKey()` as a number when it is a safe integer (`n:` keys), for ordering. */
function numericKey(key: string | undefined): number | undefined {
  if (key === undefined || key.charCodeAt(0) !== 110 /* n */) return undefined
  const n = Number(key.slice(2))
  return Number.isSafeInteger(n) ? n : undefined
}

/**
 * The order rows are sent in: integer keys by value, then other keys as strings, then rows
 * without a key, each in submit order on ties (`ties[i]`: where row `i` stands in the submit
 * order, default `i`). Keys are compared as the ordering gate compares them
 * (`keyForOrder()`): two keys BatchSQL tells apart that the database may store as one row
 * (`'5'` and `5n` in an untyped column, `'abc'` and `'ABC'` under a case-blind collation) are
 * a tie, kept in submit order, so that the later write is the later in the statement and
 * wins, as one row at a time would; sorted apart, the earlier could land last. Every batch of a
 * schema must use the same order (it is what makes concurrent batches lock rows in the same
 * order), whichever way it was computed: `integerKeyOrder()` gives the same result for the
 * batches it accepts.
 */
export function keyOrder(
  exactKeys: readonly (string | undefined)[],
  ties?: readonly number[],
): number[] {
  return keyOrderWithRounds(exactKeys, ties).order
}

/** `keyOrder()`, and where rows tie on a key, which of the tied rows each one is. */
export interface KeyOrder {
  readonly order: number[]
  /**
   * For the row at position `n` of `order`, how many rows before it tie with it on a key
   * (0 for the first of its key): rows a database may store as one, which must reach it in
   * submit order. Undefined when no two rows tie (nearly every batch).
   */
  readonly rounds: number[] | undefined
}

/**
 * `keyOrder()` with the rows that tie on a key numbered: a planner that sends rows in several
 * statements (one per set of columns) keeps tied rows in submit order by sending each round
 * after the one before, not by the statements' order alone.
 */
export function keyOrderWithRounds(
  exactKeys: readonly (string | undefined)[],
  ties?: readonly number[],
): KeyOrder {
  const keys = exactKeys.map((k) => (k === undefined ? undefined : keyForOrder(k)))
  const nums = keys.map(numericKey)
  const order = keys.map((_, i) => i)
  const tie = (a: number, b: number) => (ties === undefined ? a - b : ties[a]! - ties[b]!)
  order.sort((a, b) => {
    const ka = keys[a]
    const kb = keys[b]
    if (ka === kb) return tie(a, b)
    if (ka === undefined) return 1
    if (kb === undefined) return -1
    const na = nums[a]
    const nb = nums[b]
    if (na !== undefined && nb !== undefined) return na - nb || tie(a, b)
    if (na !== undefined) return -1
    if (nb !== undefined) return 1
    return ka < kb ? -1 : 1
  })
  // Tied rows are adjacent in the order (rows without a key never tie).
  let rounds: number[] | undefined
  for (let n = 1; n < order.length; n++) {
    const k = keys[order[n]!]
    if (k === undefined || k !== keys[order[n - 1]!]) continue
    rounds ??= new Array<number>(order.length).fill(0)
    rounds[n] = rounds[n - 1]! + 1
  }
  return { order, rounds }
}
