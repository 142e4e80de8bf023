import type { Request } from './request.js'
import type { Schema } from './schema.js'
import { rowKey } from './values.js'

interface Entry {
  /** Conflict keys of the batch; null when the schema has no declared key (touches all). */
  keys: Set<string> | null
  done: Promise<void>
  release: () => void
}

/**
 * Keeps batches of a conflict-handling schema from overtaking each other: a batch waits for
 * every earlier, unfinished batch of its schema that shares a conflict key, so the last write
 * wins across batches too. Batches with disjoint keys run concurrently. Without declared
 * conflict columns every batch of the schema waits for the one before it.
 */
export class KeyOrderGate {
  private readonly inFlight = new Map<number, Entry[]>()

  /** Registers the batch now (so later batches see it) and resolves when it may run. */
  async enter(schema: Schema, rows: readonly Request[]): Promise<() => void> {
    let keys: Set<string> | null = null
    if (schema.conflictIndexes.length > 0) {
      keys = new Set()
      for (const r of rows) {
        const k = rowKey(r.values, schema.conflictIndexes, schema.types)
        if (k !== undefined) keys.add(k) // null keys never conflict
      }
    }
    let list = this.inFlight.get(schema.id)
    if (!list) {
      list = []
      this.inFlight.set(schema.id, list)
    }
    const deps = list.filter((e) => overlaps(e.keys, keys)).map((e) => e.done)
    let release!: () => void
    const done = new Promise<void>((r) => {
      release = r
    })
    const entry: Entry = { keys, done, release }
    list.push(entry)
    if (deps.length > 0) await Promise.all(deps)
    return () => {
      const l = this.inFlight.get(schema.id)
      if (l) {
        const i = l.indexOf(entry)
        if (i >= 0) l.splice(i, 1)
        if (l.length === 0) this.inFlight.delete(schema.id)
      }
      entry.release()
    }
  }
}

function overlaps(a: Set<string> | null, b: Set<string> | null): boolean {
  if (a === null || b === null) return true
  const [small, large] = a.size <= b.size ? [a, b] : [b, a]
  for (const k of small) if (large.has(k)) return true
  return false
}
