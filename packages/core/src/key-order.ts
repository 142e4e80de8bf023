import type { Request } from './request.js'
import type { Schema } from './schema.js'
import { rowKey } from './values.js'

interface Entry {
  readonly done: Promise<void>
  readonly release: () => void
}

interface SchemaState {
  /**
   * The most recent unfinished batch touching each conflict key. A one-column key holding a
   * string in an `any`/`string` column is stored as the string itself (no tagged copy per
   * row: the hot path of every Redis command); every other key as `rowKey()` makes it. The
   * two kinds cannot collide: a JS Map never equates a string with a number, and tagged keys
   * live in `byKey` while raw strings live in `byString`.
   */
  readonly byKey: Map<string, Entry>
  readonly byString: Map<string, Entry>
  /** The most recent unfinished batch (schemas without declared conflict columns). */
  last: Entry | undefined
}

/**
 * Keeps batches of a conflict-handling schema from overtaking each other: a batch waits for
 * every earlier, unfinished batch of its schema that shares a conflict key, so the last write
 * wins across batches too. Batches with disjoint keys run concurrently. Without declared
 * conflict columns every batch of the schema waits for the one before it.
 *
 * Per key only the most recent batch is remembered: it already waits for the ones before it,
 * so waiting for it orders after all of them. That keeps the cost at two map operations per
 * row, whatever the number of batches in flight (the hot path of every upsert and Redis batch).
 */
export class KeyOrderGate {
  private readonly schemas = new Map<number, SchemaState>()

  /** Registers the batch now (so later batches see it) and resolves when it may run. */
  async enter(schema: Schema, rows: readonly Request[]): Promise<() => void> {
    let state = this.schemas.get(schema.id)
    if (state === undefined) {
      state = { byKey: new Map(), byString: new Map(), last: undefined }
      this.schemas.set(schema.id, state)
    }
    let release!: () => void
    const done = new Promise<void>((r) => {
      release = r
    })
    const entry: Entry = { done, release }
    const deps = new Set<Entry>()
    let keys: string[] | null = null
    let strings: string[] | null = null
    const { conflictIndexes, types } = schema
    if (conflictIndexes.length > 0) {
      keys = []
      strings = []
      const { byKey, byString } = state
      const only = conflictIndexes.length === 1 ? conflictIndexes[0]! : -1
      const rawStrings = only >= 0 && (types[only] === 'any' || types[only] === 'string')
      for (const r of rows) {
        const v = rawStrings ? r.values[only] : undefined
        let map: Map<string, Entry>
        let k: string | undefined
        if (typeof v === 'string') {
          map = byString
          k = v
          strings.push(k)
        } else {
          k = rowKey(r.values, conflictIndexes, types)
          if (k === undefined) continue // null keys never conflict
          map = byKey
          keys.push(k)
        }
        const prev = map.get(k)
        if (prev !== undefined && prev !== entry) deps.add(prev)
        map.set(k, entry)
      }
    } else {
      if (state.last !== undefined) deps.add(state.last)
      state.last = entry
    }
    if (deps.size > 0) await Promise.all(Array.from(deps, (d) => d.done))
    const owner = state
    return () => {
      if (keys === null || strings === null) {
        if (owner.last === entry) owner.last = undefined
      } else {
        for (const k of keys) if (owner.byKey.get(k) === entry) owner.byKey.delete(k)
        for (const k of strings) if (owner.byString.get(k) === entry) owner.byString.delete(k)
      }
      if (owner.byKey.size === 0 && owner.byString.size === 0 && owner.last === undefined)
        this.schemas.delete(schema.id)
      entry.release()
    }
  }
}
