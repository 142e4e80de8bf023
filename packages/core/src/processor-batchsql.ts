import type { BatchProcessor } from './contract.js'
import { createExecutor, type ExecutorOptions } from './executor.js'
import { type BatchSQL, type BatchSQLConfig, createBatchSQL } from './pipeline.js'

/**
 * Pipeline and executor options together: what an adapter's factory accepts besides its own
 * (`createPostgresBatchSQL(pool, { flushSize, concurrency, retry, ... })`).
 */
export interface ProcessorBatchSQLConfig
  extends Omit<BatchSQLConfig, 'executor'>,
    Omit<ExecutorOptions, 'metrics'> {}

/**
 * A pipeline writing through `processor`: splits `config` into the executor's options and the
 * pipeline's (both get `metrics`). Adapter factories take their own options out of the config
 * first; any other key is refused by the pipeline as `BATCHSQL_INVALID_CONFIG`.
 */
export function createProcessorBatchSQL(
  processor: BatchProcessor,
  config: ProcessorBatchSQLConfig,
): BatchSQL {
  const { concurrency, timeoutMs, retry, classifiers, ...pipeline } = config
  const executor = createExecutor(processor, {
    concurrency,
    timeoutMs,
    retry,
    classifiers,
    metrics: pipeline.metrics,
  })
  return createBatchSQL({ ...pipeline, executor })
}
