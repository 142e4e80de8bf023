/**
 * Reads a pipeline's `errors` stream, as an application must: the pipeline reports every
 * final failure there (a `submitAndWait()` row's too), and when nobody reads, its bounded
 * buffer fills, later failures are dropped and the library warns (BATCHSQL_DROPPED_ERRORS).
 * The tally is the pipeline's own account of what failed: rows per reason.
 */
import type { BatchFailure, BatchSQL } from '@batchsql/core'

export interface FailureTally {
  /** Rows reported failed, per reason (`constraint`, `connection`, ...). */
  readonly byReason: Record<string, number>
  /** Rows reported failed in all. */
  rows: number
  /** Resolves once the stream ended (after `close()`). */
  readonly done: Promise<void>
}

/** Starts reading `pipeline.errors` now, before any failure can fill the buffer. */
export function tallyFailures(
  pipeline: BatchSQL,
  onFailure?: (failure: BatchFailure) => void,
): FailureTally {
  const tally = { byReason: {} as Record<string, number>, rows: 0, done: Promise.resolve() }
  tally.done = (async () => {
    for await (const f of pipeline.errors) {
      tally.byReason[f.reason] = (tally.byReason[f.reason] ?? 0) + f.rows.length
      tally.rows += f.rows.length
      onFailure?.(f)
    }
  })()
  return tally
}
