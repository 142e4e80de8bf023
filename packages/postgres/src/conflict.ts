import { BatchSQLError } from '@batchsql/core'
import type { InsertShape } from '@batchsql/kysely'
import { type InsertQueryBuilder, sql } from 'kysely'

/**
 * The conflict clause of a strategy, on any INSERT builder (VALUES for the INSERT path,
 * SELECT from the staging table for COPY): ignore = ON CONFLICT DO NOTHING; update =
 * ON CONFLICT (cols) DO UPDATE SET c = EXCLUDED.c for the update columns the rows set;
 * replace = the same over every non-key column the rows set.
 */
export function withConflictClause<QB extends InsertQueryBuilder<any, any, any>>(
  insert: QB,
  shape: InsertShape,
): QB {
  const { schema } = shape
  const keys = schema.conflictColumns as never
  switch (schema.strategy) {
    case 'insert':
      return insert
    case 'ignore':
      return insert.onConflict((oc) =>
        schema.conflictColumns.length > 0 ? oc.columns(keys).doNothing() : oc.doNothing(),
      ) as QB
    case 'update':
    case 'replace': {
      if (schema.conflictColumns.length === 0) {
        throw new BatchSQLError(
          'BATCHSQL_INVALID_SCHEMA',
          `table "${schema.table}": PostgreSQL needs conflictColumns for strategy "${schema.strategy}" (ON CONFLICT (...) DO UPDATE)`,
        )
      }
      if (shape.updateColumns.length === 0)
        return insert.onConflict((oc) => oc.columns(keys).doNothing()) as QB
      const set = Object.fromEntries(
        shape.updateColumns.map((c) => [c, sql`excluded.${sql.id(c)}`]),
      )
      return insert.onConflict((oc) => oc.columns(keys).doUpdateSet(set)) as QB
    }
  }
}
