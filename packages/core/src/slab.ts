/**
 * What the pipeline's buffer holds, and how a flush becomes batches. Plain-object rows are
 * kept as slabs: runs of one schema's rows in one row-major array, no object per row (a
 * `Request` per row was a third of the overhead on a fast sink); `submit(request)` and
 * `submitAndWait()` rows stay Requests (they carry acks).
 */
import type { Batch } from './contract.js'
import { ValidationError } from './errors.js'
import { FlatBatch, pushRequests } from './flat-batch.js'
import { readRow, typedError } from './read-row.js'
import { Request } from './request.js'
import type { AnyRow, Schema } from './schema.js'
import { scopePieces } from './scope-split.js'
import type { Value } from './values.js'

/**
 * Rows `[start, end)` of one schema whose values are one row-major array
 * (`schema.columns.length` per row): buffered without an object per row. Either (part of) a
 * `submitMany()` call's rows, or a run of plain `submit()` rows, which is `growable`: the
 * next such row of its schema is appended while it is the buffer's last entry.
 */
export interface Slab {
  readonly schema: Schema
  readonly values: (Value | undefined)[]
  readonly start: number
  end: number
  readonly growable: boolean
}

/** What the buffer holds: a Request (`submit(request)`, `submitAndWait()`), or a slab. */
export type Entry = Request | Slab

/** Rows in an entry. */
export const entryRows = (e: Entry): number => (e instanceof Request ? 1 : e.end - e.start)

/** The error of row `index` of a `submitMany()` call: same code, the index in `row`. */
function atRow(thrown: unknown, index: number): unknown {
  const err = typedError(thrown)
  if (!(err instanceof ValidationError)) return err
  return new ValidationError(err.code, `row ${index}: ${err.message}`, {
    table: err.table,
    column: err.column,
    row: index,
    cause: err.cause,
  })
}

/**
 * Validates `submitMany()` rows into one row-major array. All of them first: one bad row
 * rejects the call before anything is accepted.
 */
export function readRows(schema: Schema, rows: Iterable<AnyRow>): Slab {
  const width = schema.columns.length
  // Sized up front when the count is known (an array): no copies as it grows. Past 2^24
  // slots V8 would make a preallocated array a slow dictionary, so those grow instead.
  const sized = Array.isArray(rows) && rows.length * width <= 1 << 24
  const values: (Value | undefined)[] = sized ? new Array(rows.length * width) : []
  let n = 0
  for (const row of rows) {
    const base = n * width
    if (!sized) for (let c = 0; c < width; c++) values.push(undefined)
    try {
      readRow(schema, row, values, base)
    } catch (err) {
      throw atRow(err, n)
    }
    n++
  }
  values.length = n * width
  return { schema, values, start: 0, end: n, growable: false }
}

/** One validated `submit()` row that has to wait for room, as a growable slab of one row. */
export function rowSlab(schema: Schema, row: unknown): Slab {
  // A copy of the blank row: a packed array, which the rows appended later keep packed.
  const values: (Value | undefined)[] = schema.blank.slice()
  readRow(schema, row as AnyRow, values, 0)
  return { schema, values, start: 0, end: 1, growable: true }
}

/** Appends rows `[start, end)` of row-major `values` (`width` per row) to `out`. */
export function pushRows(
  out: (Value | undefined)[],
  values: readonly (Value | undefined)[],
  start: number,
  end: number,
  width: number,
): void {
  for (let i = start * width; i < end * width; i++) out.push(values[i])
}

/**
 * Splits buffered entries by schema into batches, keeping submit order within each. Batches
 * come out in the order their schemas first appear, which the key-order gate then enforces
 * between schemas of one order scope (two schemas on one table); where that order would put
 * a key's later row first, the scope's entries are cut into pieces (`scopePieces`), each
 * again one batch per schema.
 */
export function groupBySchema(entries: Entry[]): Batch[] {
  const first = entries[0]!.schema
  let single = true
  for (let i = 1; i < entries.length; i++) {
    if (entries[i]!.schema !== first) {
      single = false
      break
    }
  }
  if (single) return [toBatch(first, entries)]
  const groups = new Map<Schema, Entry[]>()
  for (const e of entries) {
    const g = groups.get(e.schema)
    if (g) g.push(e)
    else groups.set(e.schema, [e])
  }
  const pieces = scopePieces([...groups.keys()], entries)
  if (pieces === undefined) return [...groups].map(([schema, group]) => toBatch(schema, group))
  const out: [Schema, Entry[]][] = []
  const open = new Map<Schema, { piece: number; group: Entry[] }>()
  for (const e of entries) {
    const piece = pieces.get(e) ?? 0
    let o = open.get(e.schema)
    if (o === undefined || o.piece !== piece) {
      o = { piece, group: [] }
      open.set(e.schema, o)
      out.push([e.schema, o.group])
    }
    o.group.push(e)
  }
  return out.map(([schema, group]) => toBatch(schema, group))
}

/**
 * One schema's entries as a batch: flat when they are all slabs (no object per row), else
 * Requests (`submitAndWait()` rows carry acks; a flush that mixes both is the uncommon case).
 */
function toBatch(schema: Schema, entries: Entry[]): Batch {
  let requests = 0
  for (const e of entries) if (e instanceof Request) requests++
  if (requests === entries.length) return { schema, rows: entries as Request[] }
  const width = schema.columns.length
  if (requests === 0) {
    const slabs = entries as Slab[]
    const only = slabs[0]!
    if (slabs.length === 1 && only.start === 0 && only.end * width === only.values.length) {
      return new FlatBatch(schema, only.values)
    }
    const values: (Value | undefined)[] = []
    for (const s of slabs) pushRows(values, s.values, s.start, s.end, width)
    return new FlatBatch(schema, values)
  }
  const rows: Request[] = []
  for (const e of entries) {
    if (e instanceof Request) rows.push(e)
    else pushRequests(rows, schema, e.values, e.start, e.end)
  }
  return { schema, rows }
}
