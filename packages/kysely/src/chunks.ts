/**
 * Splits a group of rows into statements under the dialect's limits. Chunks are balanced
 * (1 001 rows with a limit of 1 000 become 501 + 500, not 1 000 + 1) so that a batch needs
 * at most two distinct statement texts; for a dialect that prepares each text
 * (`fewRowCounts`), the limit's worth, then powers of two, so that every batch size shares
 * a few texts.
 */
import type { SqlDialectAdapter } from './dialect.js'
import type { PlannedGroup } from './plan.js'

/** Rows `[start, end)` of a group. */
export interface Chunk {
  readonly start: number
  readonly end: number
}

// Upper bound of the bytes one value adds to a statement whose values are inlined by the
// driver (mysql2 escapes on the client): a UTF-16 unit becomes 1 to 3 UTF-8 bytes (a surrogate
// pair 4 for its 2 units) or a 2-byte escape, so at most 3; plus quotes and a separator. (6
// cut ASCII batches into twice the statements the packet needed.)
function valueBytes(v: unknown): number {
  if (typeof v === 'string') return v.length * 3 + 4
  if (v instanceof Uint8Array) return v.byteLength * 2 + 4
  return 32
}

/**
 * Room for the statement text around the values of a `width`-column row list: the table's
 * name and each column's, named up to three times (`insert into t (c, …)` and an upsert's
 * `c = values(c)`), identifiers of up to 64 characters of up to 3 bytes, a backtick doubled,
 * and the keywords. It grows with the columns, not with the packet: a fixed 64 KiB took all of
 * a 64 KiB packet's budget but 1 KiB, and 4-column rows went 7 to a statement.
 */
export function textBytes(width: number): number {
  return 1024 + 640 * width
}

export function rowsPerChunk(adapter: SqlDialectAdapter, columns: number): number {
  return Math.max(
    1,
    Math.min(adapter.rowsPerStatement, Math.floor(adapter.maxParameters / Math.max(1, columns))),
  )
}

export function chunkRows(
  adapter: SqlDialectAdapter,
  group: Pick<PlannedGroup, 'width' | 'values' | 'sources'>,
): Chunk[] {
  const rows = group.sources.length
  const limit = rowsPerChunk(adapter, group.width)
  const chunks = adapter.fewRowCounts ? fewCounts(rows, limit) : balanced(rows, limit)
  const maxBytes = adapter.maxStatementBytes
  if (maxBytes === undefined) return chunks
  const budget = Math.max(1024, Math.floor(maxBytes * 0.8) - textBytes(group.width))
  const out: Chunk[] = []
  const { width, values } = group
  for (const chunk of chunks) {
    let start = chunk.start
    let bytes = 0
    for (let r = chunk.start; r < chunk.end; r++) {
      let rowBytes = 8
      for (let c = 0; c < width; c++) rowBytes += valueBytes(values[r * width + c])
      if (r > start && bytes + rowBytes > budget) {
        out.push({ start, end: r })
        start = r
        bytes = 0
      }
      bytes += rowBytes
    }
    out.push({ start, end: chunk.end })
  }
  return out
}

function balanced(rows: number, limit: number): Chunk[] {
  const chunks: Chunk[] = []
  const count = Math.ceil(rows / limit)
  const size = Math.ceil(rows / count)
  for (let i = 0; i < rows; i += size) chunks.push({ start: i, end: Math.min(rows, i + size) })
  return chunks
}

/** Chunks of `limit` rows, then of the powers of two the rest is made of, largest first. */
function fewCounts(rows: number, limit: number): Chunk[] {
  const chunks: Chunk[] = []
  let start = 0
  for (; rows - start >= limit; start += limit) chunks.push({ start, end: start + limit })
  for (let size = 2 ** Math.floor(Math.log2(Math.max(1, limit))); start < rows; size /= 2)
    if (rows - start >= size) {
      chunks.push({ start, end: start + size })
      start += size
    }
  return chunks
}
