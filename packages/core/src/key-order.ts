import type { Batch } from './contract.js'
import type { Schema } from './schema.js'
import { rowKey } from './values.js'

/** A batch that entered the gate and has not been released. */
interface Entry {
  readonly batch: Batch
  /**
   * 32-bit hashes of the batch's conflict keys, sorted; computed the first time another batch
   * enters while this one is unfinished (with one batch at a time, never).
   */
  hashes?: Uint32Array
  readonly done: Promise<void>
  readonly release: () => void
}

/**
 * Keeps batches of a conflict-handling schema from overtaking each other: a batch waits for
 * every earlier, unfinished batch of its schema that shares a conflict key, so the last write
 * wins across batches too. Batches with disjoint keys run concurrently. Without declared
 * conflict columns every batch of the schema waits for the ones before it.
 *
 * Why hashes and not a Map of keys: this runs for every row of every upsert and Redis batch,
 * and a Map of a few thousand live keys (set on entry, deleted on release) measured at 0.4 to
 * 0.9 µs per row, most of it garbage-collector work on the map's pointers to young strings.
 * Here each batch keeps a sorted Uint32Array of its keys' hashes, and a new batch merges its
 * array against those of the batches still unfinished (at most the pipeline's in-flight
 * flushes): no pointer per key, nothing to delete on release. A batch that never overlaps
 * another is never hashed. Two different keys with the
 * same hash make a batch wait when it need not (about one in 4 billion key pairs); they can
 * never let one run early.
 */
export class KeyOrderGate {
  /** Unfinished batches per schema, oldest first. */
  private readonly schemas = new Map<number, Entry[]>()

  /** `onWait` runs when a batch has to wait for earlier ones (to hurry those along). */
  constructor(private readonly onWait: () => void = () => {}) {}

  /** Registers the batch now (so later batches see it) and resolves when it may run. */
  async enter(batch: Batch): Promise<() => void> {
    const { schema } = batch
    let unfinished = this.schemas.get(schema.id)
    if (unfinished === undefined) {
      unfinished = []
      this.schemas.set(schema.id, unfinished)
    }
    let release!: () => void
    const done = new Promise<void>((r) => {
      release = r
    })
    const entry: Entry = { batch, done, release }
    const deps: Promise<void>[] = []
    if (unfinished.length > 0) {
      // Without declared conflict columns every batch may touch every row: wait for all.
      const keyed = schema.conflictIndexes.length > 0
      for (const e of unfinished) {
        if (!keyed || intersects(hashesOf(schema, entry), hashesOf(schema, e))) deps.push(e.done)
      }
    }
    unfinished.push(entry)
    if (deps.length > 0) {
      this.onWait()
      await Promise.all(deps)
    }
    return () => {
      const list = this.schemas.get(schema.id)
      const at = list === undefined ? -1 : list.indexOf(entry)
      if (at >= 0) {
        list!.splice(at, 1)
        if (list!.length === 0) this.schemas.delete(schema.id)
      }
      entry.release()
    }
  }
}

// FNV-1a, 32 bits. The state after "s:" lets a raw string key hash exactly as the `s:`-tagged
// key rowKey() would build for it, without building it.
const FNV_OFFSET = 0x811c9dc5
const FNV_PRIME = 0x01000193
const S_TAG = hashString('s:', FNV_OFFSET)
const N_TAG = hashString('n:', FNV_OFFSET)

function hashString(s: string, h: number): number {
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), FNV_PRIME)
  return h >>> 0
}

const DIGITS = new Uint8Array(16) // a safe integer has at most 16 digits
/** hashString(String(v), h) for a safe integer, without building the string. */
function hashSafeInteger(v: number, h: number): number {
  if (v < 0) {
    h = Math.imul(h ^ 45, FNV_PRIME) // '-'
    v = -v
  }
  let n = 0
  do {
    const d = v % 10
    DIGITS[n++] = d
    v = (v - d) / 10
  } while (v > 0)
  while (n > 0) h = Math.imul(h ^ (48 + DIGITS[--n]!), FNV_PRIME)
  return h >>> 0
}

function hashesOf(schema: Schema, e: Entry): Uint32Array {
  e.hashes ??= keyHashes(schema, e.batch)
  return e.hashes
}

/** The sorted hashes of the batch's non-null conflict keys (null keys never conflict). */
function keyHashes(schema: Schema, batch: Batch): Uint32Array {
  const { conflictIndexes, types } = schema
  // A flat batch is read in place (row r's values start at r * width), not through rows.
  const flat = batch.values
  const rows = flat === undefined ? batch.rows : undefined
  const width = types.length
  const size = flat === undefined ? rows!.length : flat.length / width
  const out = new Uint32Array(size)
  let n = 0
  const only = conflictIndexes.length === 1 ? conflictIndexes[0]! : -1
  // The two hot paths hash without building rowKey()'s tagged string, to the same value: a
  // string in an `any`/`string` column ("s:" + itself; every Redis command) and a safe
  // integer outside a `string` column ("n:" + its digits; most upsert keys).
  const rawStrings = only >= 0 && (types[only] === 'any' || types[only] === 'string')
  const rawIntegers = only >= 0 && types[only] !== 'string'
  for (let r = 0; r < size; r++) {
    const values = flat ?? rows![r]!.values
    const base = flat === undefined ? 0 : r * width
    const v = only >= 0 ? values[base + only] : undefined
    if (rawStrings && typeof v === 'string') {
      out[n++] = hashString(v, S_TAG)
    } else if (rawIntegers && typeof v === 'number' && Number.isSafeInteger(v)) {
      out[n++] = hashSafeInteger(v, N_TAG)
    } else {
      const k = rowKey(values, conflictIndexes, types, base)
      if (k !== undefined) out[n++] = hashString(k, FNV_OFFSET)
    }
  }
  return out.subarray(0, n).sort()
}

/** Whether two sorted arrays share a value: one merge pass. */
function intersects(a: Uint32Array, b: Uint32Array): boolean {
  let i = 0
  let j = 0
  while (i < a.length && j < b.length) {
    const x = a[i]!
    const y = b[j]!
    if (x === y) return true
    if (x < y) i++
    else j++
  }
  return false
}
