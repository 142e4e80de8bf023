/**
 * Builds a batch's statements without running them: what a user checks when a batch does
 * something unexpected, and what tests use to see the SQL a dialect produces.
 */
import { createHash } from 'node:crypto'
import { type AnyRow, Request, type Schema } from '@batchsql/core'
import { chunkRows } from './chunks.js'
import type { StatementPreview } from './dialect.js'
import { planBatch } from './plan.js'
import type { KyselyProcessor } from './processor.js'
import { UNSET } from './unset.js'

/**
 * Hash of a statement's shape: the dialect and the SQL text of a one-row statement of that
 * shape, as the Kysely instance compiles it. The text, not the schema's names: a plugin of the
 * instance (`CamelCasePlugin`, `withSchema()`) changes the table and columns written, and two
 * statements that write different ones must not share a fingerprint. One row: the text does
 * not change with the row count or the values.
 */
export function statementFingerprint(dialect: string, oneRowSql: string): string {
  return createHash('sha256')
    .update(JSON.stringify([dialect, oneRowSql]))
    .digest('hex')
    .slice(0, 16)
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
    fingerprint: statementFingerprint(processor.adapter.name, processor.oneRowSql(first)),
    rows: plan.rows,
    duplicates: plan.duplicates,
  }
}
