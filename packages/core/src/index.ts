export type { Classification, ErrorClassifier, ErrorReason } from './classify.js'
export { builtinClassifier, ClassifierRegistry, ERROR_REASONS } from './classify.js'
export type { Coalesced, FoldedRows, IntegerKeyOrder } from './coalesce.js'
export {
  coalesce,
  coalesces,
  foldIntegerKeys,
  integerKeyOrder,
  type KeyOrder,
  keyOrder,
  keyOrderWithRounds,
} from './coalesce.js'
export type {
  Batch,
  BatchExecutor,
  BatchFailure,
  BatchOutcome,
  BatchProcessor,
  BatchProgress,
  ProcessContext,
  ProcessResult,
  RowFailure,
} from './contract.js'
export { END_GRACE_MS, endWithin } from './end-within.js'
export type { BatchFailedErrorCode, BatchSQLErrorCode, ValidationErrorCode } from './errors.js'
export {
  AbortedError,
  BatchFailedError,
  BatchSQLError,
  ClosedError,
  CloseFailedError,
  isAbortError,
  isInDoubt,
  markInDoubt,
  TimeoutError,
  ValidationError,
} from './errors.js'
export type { ExecutorOptions } from './executor.js'
export { createExecutor, DEFAULT_TIMEOUT_MS, RetryingExecutor } from './executor.js'
export { batchSize, FlatBatch } from './flat-batch.js'
export { FNV_OFFSET, fnv1a } from './fnv.js'
export type { BatchMetrics, MetricsReporter, PipelineGauges, RejectReason } from './metrics.js'
export {
  METRICS_REPORTER_METHODS,
  NoopMetricsReporter,
  noopMetrics,
  REJECT_REASONS,
} from './metrics.js'
export { setOwnProperty } from './own-property.js'
export type { AcknowledgedSubmit } from './pipeline.js'
export { BatchSQL, createBatchSQL } from './pipeline.js'
export type {
  BatchSQLConfig,
  CloseOptions,
  CloseResult,
  PipelineStats,
  SubmitOptions,
} from './pipeline-options.js'
export { checkedOptions } from './pipeline-options.js'
export type { ProcessorBatchSQL, ProcessorBatchSQLConfig } from './processor-batchsql.js'
export { createProcessorBatchSQL } from './processor-batchsql.js'
export type { Ack, ColumnFor } from './request.js'
export { Request } from './request.js'
export type { RetryOptions, RetryPolicy } from './retry.js'
export { backoffDelay, defaultRetryPolicy, retryPolicy, sleep } from './retry.js'
export type {
  AnyRow,
  ConflictStrategy,
  DedupeMode,
  RowOf,
  SchemaDefinition,
  ValueOf,
} from './schema.js'
export { defineSchema, Schema } from './schema.js'
export { Semaphore } from './semaphore.js'
export type { ColumnType, JsonValue, Value } from './values.js'
export { copyValue, JSON_MAX_DEPTH, keyPart, rowKey } from './values.js'
