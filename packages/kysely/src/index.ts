export type { Chunk } from './chunks.js'
export type {
  DriverRow,
  InsertShape,
  ShapeGroup,
  SqlDialectAdapter,
  StatementPreview,
} from './dialect.js'
export type { SqlBatchSQL, SqlBatchSQLConfig } from './factory.js'
export { createKyselyBatchSQL } from './factory.js'
export { lostCommit } from './lost-commit.js'
export type { PlannedGroup } from './plan.js'
export { previewBatch, statementFingerprint } from './preview.js'
export type { KyselyProcessorOptions } from './processor.js'
export { KyselyProcessor } from './processor.js'
export { StatementCache } from './statement-cache.js'
export { checkConnectionOptions, checkConnectionUrl, isKysely } from './target.js'
export type {
  RequiredTableRow,
  TableColumn,
  TableRow,
  TableSchemaDefinition,
  UpdatableColumn,
} from './typed.js'
export { tableSchema } from './typed.js'
export { hasUnset, UNSET } from './unset.js'
