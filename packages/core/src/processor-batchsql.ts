import type { Classification } from './classify.js'
import type { BatchProcessor } from './contract.js'
import { BatchSQLError } from './errors.js'
import { createExecutor, EXECUTOR_OPTION_KEYS, type ExecutorOptions } from './executor.js'
import { type BatchSQL, createBatchSQL } from './pipeline.js'
import { type BatchSQLConfig, CONFIG_KEYS, checkedOptions } from './pipeline-options.js'

/**
 * Pipeline and executor options together: what an adapter's factory accepts besides its own
 * (`createPostgresBatchSQL(pool, { flushSize, concurrency, retry, ... })`).
 */
export interface ProcessorBatchSQLConfig
  extends Omit<BatchSQLConfig, 'executor'>,
    Omit<ExecutorOptions, 'metrics'> {}

/** A pipeline an adapter's factory made (`createProcessorBatchSQL`). */
export interface ProcessorBatchSQL extends BatchSQL {
  /**
   * How this pipeline classifies an error, as its executor does when a batch fails: your
   * `classifiers` first, then the adapter's, then the built-in ones. The conformance suite
   * checks real server errors through it; an application can use it on its own driver errors.
   */
  classify(err: unknown): Classification
}

/**
 * A pipeline writing through `processor`: splits `config` into the executor's options and the
 * pipeline's (both get `metrics`). Adapter factories take their own options out of the config
 * first; any other key is refused by the pipeline as `BATCHSQL_INVALID_CONFIG`.
 */
export function createProcessorBatchSQL(
  processor: BatchProcessor,
  config: ProcessorBatchSQLConfig = {},
): ProcessorBatchSQL {
  checkedOptions(config, 'createProcessorBatchSQL()')
  for (const key of Object.keys(config))
    if (key === 'executor' || !(CONFIG_KEYS.has(key) || EXECUTOR_OPTION_KEYS.has(key)))
      throw new BatchSQLError(
        'BATCHSQL_INVALID_CONFIG',
        `unknown option "${key}" (pipeline: ${[...CONFIG_KEYS].filter((k) => k !== 'executor').join(', ')}; executor: ${[...EXECUTOR_OPTION_KEYS].join(', ')}; the adapter's own are in its README)`,
      )
  const { concurrency, timeoutMs, retry, classifiers, ...pipeline } = config
  const executor = createExecutor(processor, {
    concurrency,
    timeoutMs,
    retry,
    classifiers,
    metrics: pipeline.metrics,
  })
  return Object.assign(createBatchSQL({ ...pipeline, executor }), {
    classify: (err: unknown) => executor.classify(err),
  })
}
