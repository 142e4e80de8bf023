import { type BatchSQL, defineSchema, type Schema } from '@batchsql/core'
import { makeRow, produce, type Workload } from './workloads.js'

/** The workload's schema: plain insert, or an upsert on `id` for the upsert workload. */
export function schemaFor(table: string, w: Workload): Schema {
  return defineSchema({
    table,
    columns: [...w.columns],
    strategy: w.upsert ? 'update' : 'insert',
    conflictColumns: w.upsert ? ['id'] : undefined,
  })
}

/** How applications use BatchSQL: each producer `submit()`s row by row, then one `close()`. */
export async function submitAll(
  bsql: BatchSQL,
  schema: Schema,
  w: Workload,
  rows: number,
  producers: number,
): Promise<void> {
  await produce(rows, producers, async (start, end) => {
    for (let i = start; i < end; i++) await bsql.submit(schema, makeRow(w, i))
  })
  const result = await bsql.close()
  if (result.failed > 0) throw new Error(`${result.failed} rows failed`)
}
