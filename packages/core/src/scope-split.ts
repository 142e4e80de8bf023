/**
 * Where a flush must be cut so that schemas sharing an order scope (two schemas on one table,
 * every Redis schema) keep submit order. A flush becomes one batch per schema, dispatched in
 * the order the schemas first appear, and the key-order gate makes each batch wait for the
 * earlier ones sharing a key. That order is wrong for a key whose rows came through a later
 * schema first (B then A on one key, while A's batch goes first): there the flush is cut, and
 * from that entry on its scope's rows form a new piece, again one batch per schema. So a key
 * going back and forth costs one cut each time, not a batch per row.
 */
import { type RowKeyHash, rowKeyHasher } from './key-order.js'
import { Request } from './request.js'
import type { Schema } from './schema.js'
import type { Entry } from './slab.js'

/**
 * The piece of each entry of the scopes that need cutting (0, 1, ...; entries of other scopes
 * are not listed), or undefined when none does. The common flush has one schema per scope and
 * costs a Map of scopes; only scopes shared by several conflict-handling schemas are read row
 * by row.
 */
export function scopePieces(schemas: Schema[], entries: Entry[]): Map<Entry, number> | undefined {
  const byScope = new Map<string, Schema[]>()
  let shared = false
  for (const s of schemas) {
    if (!s.hasConflictHandling) continue
    const list = byScope.get(s.orderScope)
    if (list === undefined) byScope.set(s.orderScope, [s])
    else {
      list.push(s)
      shared = true
    }
  }
  if (!shared) return undefined
  let out: Map<Entry, number> | undefined
  for (const list of byScope.values()) {
    if (list.length < 2) continue
    const members = new Set(list)
    const signature = list[0]!.keySignature
    let comparable = signature !== '' && list.every((s) => s.keySignature === signature)
    let pieces: Map<Entry, number> | undefined
    if (comparable) {
      try {
        pieces = cut(entries, members, true)
      } catch {
        // A key hash that throws (an adapter's keyHash): compare whole runs instead.
        comparable = false
      }
    }
    if (!comparable) pieces = cut(entries, members, false)
    if (pieces === undefined) continue
    out ??= new Map()
    for (const [e, p] of pieces) out.set(e, p)
  }
  return out
}

/**
 * Pieces of `members`' entries, or undefined when one piece holds them all in order. With
 * `byKey` a later-ranked schema's row is out of order only when it shares a key with an
 * earlier-ranked row; without, any entry of an earlier-ranked schema after a later one is.
 */
function cut(
  entries: Entry[],
  members: Set<Schema>,
  byKey: boolean,
): Map<Entry, number> | undefined {
  const pieces = new Map<Entry, number>()
  const hashers = new Map<Schema, RowKeyHash>()
  let piece = 0
  let rank = new Map<Schema, number>() // a schema's place among this piece's batches
  let seen = new Map<number, number>() // key hash to the highest rank that wrote it
  let highest = -1
  /** Records `e` in the current piece; false (recording nothing reliable) if out of order. */
  const fits = (e: Entry, r: number): boolean => {
    if (!byKey) {
      if (r < highest) return false
      highest = r
      return true
    }
    let hash = hashers.get(e.schema)
    if (hash === undefined) {
      hash = rowKeyHasher(e.schema)
      hashers.set(e.schema, hash)
    }
    const width = e.schema.columns.length
    const [values, from, to] = e instanceof Request ? [e.values, 0, 1] : [e.values, e.start, e.end]
    for (let row = from; row < to; row++) {
      const h = hash(values, row * width)
      if (h === undefined) continue // null keys never conflict
      const before = seen.get(h >>> 0)
      if (before !== undefined && before > r) return false
      if (before === undefined || r > before) seen.set(h >>> 0, r)
    }
    return true
  }
  for (const e of entries) {
    if (!members.has(e.schema)) continue
    let r = rank.get(e.schema)
    if (r === undefined) {
      r = rank.size
      rank.set(e.schema, r)
    }
    if (!fits(e, r)) {
      // A fresh piece begins with this entry: alone in it, it always fits.
      piece++
      rank = new Map([[e.schema, 0]])
      seen = new Map()
      highest = -1
      fits(e, 0)
    }
    pieces.set(e, piece)
  }
  return piece === 0 ? undefined : pieces
}
