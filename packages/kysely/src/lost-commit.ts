import { BatchFailedError, markInDoubt } from '@batchsql/core'
import type { InsertShape } from './dialect.js'

/**
 * `err` came from the statement that commits a batch (its lone INSERT or COPY, or its COMMIT).
 * If `lostInFlight(err)` says the connection went away while that statement was in flight, it
 * may have committed without its reply arriving: a batch a retry could write a second time,
 * silently, is then reported with `BATCHSQL_OUTCOME_UNKNOWN` (final). That is a plain insert,
 * and an `ignore` or `replace` without `conflictColumns`: `INSERT IGNORE`, `ON CONFLICT DO
 * NOTHING` and `REPLACE` only skip or overwrite rows a unique key matches, and without
 * conflict columns nothing says the table has one (a table without a unique key takes every
 * row again). A batch with conflict columns (the unique key they name) rewrites the same rows
 * to the same values: its error is returned to be retried, marked in doubt (`markInDoubt`):
 * should every retry fail, the rows are reported `BATCHSQL_OUTCOME_UNKNOWN`, not failed for
 * certain. Shared by the engine's INSERT path and dialect fast paths.
 */
export function lostCommit(
  err: unknown,
  groups: readonly { readonly shape: InsertShape; readonly values: readonly unknown[] }[],
  attempt: number,
  lostInFlight: (err: unknown) => boolean,
): unknown {
  const schema = groups[0]?.shape.schema
  if (!lostInFlight(err)) return err
  // Retried, but if the retries run out the rows are reported as possibly written.
  if (schema === undefined || schema.conflictColumns.length > 0) return markInDoubt(err)
  let rows = 0
  for (const g of groups) rows += g.values.length / g.shape.columns.length
  return BatchFailedError.outcomeUnknown(schema.table, 'connection', attempt, rows, err)
}
