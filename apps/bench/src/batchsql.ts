import { type BatchSQL, defineSchema, type Schema } from '@batchsql/core'
import { BATCH } from './contender.js'
import { chunks, makeRow, produce, type Workload } from './workloads.js'

/** The workload's schema: plain insert, or an upsert on `id` for the upsert workload. */
export function schemaFor(table: string, w: Workload): Schema {
  return defineSchema({
    table,
    columns: [...w.columns],
    strategy: w.upsert ? 'update' : 'insert',
    conflictColumns: w.upsert ? ['id'] : undefined,
  })
}

/**
 * How rows reach BatchSQL: `submit` = each producer awaits `submit()` row by row (the common
 * case); `many` = each producer hands over arrays of BATCH rows with `submitMany()` (a
 * consumer that receives messages in batches).
 */
export type Feed = 'submit' | 'many'

/** Each producer feeds its slice of rows, then one `close()`; fails if any row failed. */
export async function submitAll(
  bsql: BatchSQL,
  schema: Schema,
  w: Workload,
  rows: number,
  producers: number,
  feed: Feed = 'submit',
): Promise<void> {
  await produce(rows, producers, async (start, end) => {
    if (feed === 'many') {
      for (const chunk of chunks(w, start, end, BATCH)) await bsql.submitMany(schema, chunk)
    } else {
      for (let i = start; i < end; i++) await bsql.submit(schema, makeRow(w, i))
    }
  })
  const result = await bsql.close()
  if (result.failed > 0) throw new Error(`${result.failed} rows failed`)
}
