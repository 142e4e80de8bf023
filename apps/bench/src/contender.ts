import type { Workload } from './workloads.js'

/** One way of writing a workload to a backend; the child process times only `run`. */
export interface Contender {
  setup(w: Workload): Promise<void>
  run(w: Workload, rows: number, producers: number): Promise<void>
  /** Rows (or keys) present afterwards, checked against the workload so no row is lost. */
  count(): Promise<number>
  /**
   * The stored `name` (Redis: the value) of each of `ids` that is present: after an upsert run,
   * each repeated key must hold its later row's (`lastWriteCheck`).
   */
  names(ids: readonly number[]): Promise<Map<number, string>>
  teardown(): Promise<void>
}

/** A contender's timed part, given its connection (`handle`) and its own table. */
export type TableRun<H> = (
  handle: H,
  table: string,
  w: Workload,
  rows: number,
  producers: number,
) => Promise<void>

export const BATCH = 500
export const IN_FLIGHT = 4

/** `"a", "b"` — identifiers are quoted even though the harness generates them. */
export function quoteList(cols: readonly string[], q = '"'): string {
  return cols.map((c) => `${q}${c}${q}`).join(', ')
}
