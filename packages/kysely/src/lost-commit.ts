import { BatchFailedError, markInDoubt } from '@batchsql/core'
import type { InsertShape } from './dialect.js'
import { UNSET } from './unset.js'

/**
 * `err` came from the statement that commits a batch (its lone INSERT or COPY, or its COMMIT).
 * If `lostInFlight(err)` says the connection went away while that statement was in flight, it
 * may have committed without its reply arriving. A batch a second run could only rewrite (every
 * row names its record by a non-null conflict key: `rewritesSameRows`) is returned to be
 * retried, marked in doubt (`markInDoubt`): should every retry fail, its rows are reported
 * `BATCHSQL_OUTCOME_UNKNOWN`, not failed for certain. Any other batch is reported
 * `BATCHSQL_OUTCOME_UNKNOWN` at once (final), because a retry could write its rows a second
 * time, silently: a plain insert; an `ignore` or `replace` without `conflictColumns` (`INSERT
 * IGNORE`, `ON CONFLICT DO NOTHING` and `REPLACE` only skip or overwrite rows a unique key
 * matches, and nothing says the table has one); a row whose key is null or left to its
 * default. Shared by the engine's INSERT path and dialect fast paths.
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
  if (schema === undefined || rewritesSameRows(groups)) return markInDoubt(err)
  let rows = 0
  for (const g of groups) rows += g.values.length / g.shape.columns.length
  return BatchFailedError.outcomeUnknown(schema.table, 'connection', attempt, rows, err)
}

/**
 * Whether running the groups again can only rewrite the rows they wrote: every row names its
 * record by a non-null value in each conflict column. A null key, or one left to the column's
 * default (a serial id), matches no existing row, so a second run adds a second copy.
 */
function rewritesSameRows(
  groups: readonly { readonly shape: InsertShape; readonly values: readonly unknown[] }[],
): boolean {
  for (const { shape, values } of groups) {
    const { conflictColumns } = shape.schema
    if (conflictColumns.length === 0) return false
    const width = shape.columns.length
    for (const column of conflictColumns) {
      const at = shape.columns.indexOf(column)
      if (at < 0) return false
      // UNSET: the row left the key to its default, in a statement with rows that set it.
      for (let i = at; i < values.length; i += width) {
        const v = values[i]
        if (v === null || v === undefined || v === UNSET) return false
      }
    }
  }
  return true
}
