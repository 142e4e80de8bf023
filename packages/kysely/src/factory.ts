import {
  type AnyRow,
  BatchSQLError,
  checkedOptions,
  createProcessorBatchSQL,
  type ProcessorBatchSQL,
  type ProcessorBatchSQLConfig,
  type Request,
  type Schema,
} from '@batchsql/core'
import type { Kysely } from 'kysely'
import type { SqlDialectAdapter, StatementPreview } from './dialect.js'
import { previewBatch } from './preview.js'
import { KyselyProcessor, type KyselyProcessorOptions } from './processor.js'

/** Pipeline, executor and engine options together: what every dialect factory accepts. */
export interface SqlBatchSQLConfig
  extends ProcessorBatchSQLConfig,
    Omit<KyselyProcessorOptions, 'ownsDb' | 'release'> {}

/** A BatchSQL pipeline writing through the SQL engine, plus statement preview. */
export interface SqlBatchSQL<DB = any> extends ProcessorBatchSQL {
  /** The Kysely instance batches are written through. */
  readonly db: Kysely<DB>
  /** The statements `rows` would be written with, without running them. */
  preview<Row extends AnyRow>(
    schema: Schema<Row>,
    rows: readonly (NoInfer<Row> | Request<Row>)[],
  ): StatementPreview
}

/**
 * Wires a dialect adapter into a pipeline. Dialect packages call this from their own
 * factories (`createPostgresBatchSQL`, ...). `owns`: what `close()` releases when BatchSQL
 * created the connection: `true` destroys the Kysely instance; a function releases the
 * driver's own pool or database (needed when an adapter's fast path may be all that ran:
 * Kysely ends nothing it never used).
 */
export function createKyselyBatchSQL<DB>(
  db: Kysely<DB>,
  adapter: SqlDialectAdapter,
  config: SqlBatchSQLConfig = {},
  owns: boolean | (() => void | Promise<void>) = false,
): SqlBatchSQL<DB> {
  // A transaction's rows would be acknowledged at BatchSQL's write, then commit or vanish with
  // the caller's transaction; and batches run on connections of their own (Kysely refuses
  // `connection()` on a Transaction, so every row failed with its error).
  if ((db as { isTransaction?: unknown }).isTransaction === true)
    throw new BatchSQLError(
      'BATCHSQL_INVALID_CONFIG',
      'a Kysely transaction cannot be a BatchSQL target: batches commit on their own; pass the Kysely instance it came from',
    )
  checkedOptions(config, 'createKyselyBatchSQL()')
  const { poisonRows, name, ...rest } = config
  const processor = new KyselyProcessor(db as Kysely<any>, adapter, {
    poisonRows,
    name,
    ownsDb: owns === true,
    release: typeof owns === 'function' ? owns : undefined,
  })
  const batch = createProcessorBatchSQL(processor, rest)
  return Object.assign(batch, {
    db,
    preview: <Row extends AnyRow>(
      schema: Schema<Row>,
      rows: readonly (NoInfer<Row> | Request<Row>)[],
    ) => previewBatch(processor, schema, rows),
  })
}
