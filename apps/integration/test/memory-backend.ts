/**
 * A Backend without a database, for tests of the runner and the producers: its pipelines
 * write through `MockProcessor` (whose `onBatch` can fail or hold a batch), and it reads back
 * the rows they committed. Rows are appended as committed (no key semantics): tests use
 * insert scenarios, or scenarios in which nothing commits.
 */
import { createProcessorBatchSQL } from '@batchsql/core'
import { type MockBehaviour, MockProcessor } from '@batchsql/core/testing'
import type { Backend, PipelineOptions } from '../src/backends/backend.js'
import { SQL_ROW_MODEL } from '../src/backends/sql-rows.js'
import { type AppRow, canonicalLine } from '../src/rows.js'

export function memoryBackend(
  behaviour: MockBehaviour = {},
  /** The pipeline's `errorBufferSize` (the library's default when unset). */
  errorBufferSize?: number,
): Backend {
  const processors: MockProcessor[] = []
  return {
    name: 'sqlite',
    strategies: ['insert', 'update', 'replace'],
    async createTable() {},
    async dropTable() {},
    ...SQL_ROW_MODEL,
    pipeline(o: PipelineOptions) {
      const processor = new MockProcessor(behaviour)
      processors.push(processor)
      return createProcessorBatchSQL(processor, {
        flushSize: o.flushSize,
        bufferSize: o.bufferSize,
        flushInterval: o.flushInterval,
        retry: o.retry,
        concurrency: 1,
        ...(errorBufferSize === undefined ? {} : { errorBufferSize }),
      })
    },
    async readBack(table, onLine) {
      for (const p of processors)
        for (const r of p.rows(table)) onLine(canonicalLine(r as unknown as AppRow))
    },
    poison: (row: AppRow) => ({ ...row, payload: null }),
    async injectFault() {
      return 'nothing dropped (no database)'
    },
    async close() {},
  }
}
