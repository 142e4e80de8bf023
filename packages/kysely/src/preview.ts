/**
 * Builds a batch's statements without running them: what a user checks when a batch does
 * something unexpected, and what tests use to see the SQL a dialect produces.
 */
import { createHash } from 'node:crypto'
import { type AnyRow, Request, type Schema } from '@batchsql/core'
import { chunkRows } from './chunks.js'
import type { InsertShape, StatementPreview } from './dialect.js'
import { planBatch } from './plan.js'
import type { KyselyProcessor } from './processor.js'
import { UNSET } from './unset.js'

/** Hash of a statement's shape: changes with dialect, table, columns and conflict clause only. */
export function shapeFingerprint(dialect: string, shape: InsertShape): string {
  const { schema } = shape
  const text = JSON.stringify([
    dialect,
    schema.table,
    schema.strategy,
    shape.columns,
    schema.conflictColumns,
    shape.updateColumns,
  ])
  return createHash('sha256').update(text).digest('hex').slice(0, 16)
}

export function previewBatch<Row extends AnyRow>(
  processor: KyselyProcessor,
  schema: Schema<Row>,
  rows: readonly (Row | Request<Row>)[],
): StatementPreview {
  const requests = rows.map((r) => (r instanceof Request ? r : Request.from(schema, r)))
  const plan = planBatch({ schema, rows: requests } as never, processor.adapter)
  const first = plan.groups[0]
  if (first === undefined) {
    return {
      sql: '',
      parameters: [],
      parameterCount: 0,
      statements: 0,
      fingerprint: '',
      rows: 0,
      duplicates: 0,
    }
  }
  let statements = 0
  let parameterCount = 0
  for (const g of plan.groups) {
    statements += chunkRows(processor.adapter, g).length
    parameterCount += g.values.length
    // A column left to DEFAULT binds nothing.
    if (g.defaults) for (const v of g.values) if (v === UNSET) parameterCount--
  }
  const firstChunk = chunkRows(processor.adapter, first)[0]!
  const compiled = processor.compile(first, firstChunk, true)
  return {
    sql: compiled.sql,
    parameters: compiled.parameters,
    parameterCount,
    statements,
    fingerprint: shapeFingerprint(processor.adapter.name, first.shape),
    rows: plan.rows,
    duplicates: plan.duplicates,
  }
}
