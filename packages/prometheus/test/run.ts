import { createBatchSQL, createExecutor, defineSchema } from '@batchsql/core'
import { MockProcessor } from '@batchsql/core/testing'
import type { PrometheusMetrics } from '../src/index.js'

export const events = defineSchema({ table: 'events', columns: { id: 'int', kind: 'string' } })
export const users = defineSchema({ table: 'users', columns: { id: 'int' } })

/**
 * A real pipeline run with this reporter: 1,000 events in batches of 100 (one of which fails
 * once and is retried), and 10 users whose batch fails for good.
 */
export async function batchRun(metrics: PrometheusMetrics, database = 'mockdb'): Promise<void> {
  let failedOnce = false
  const processor = new MockProcessor(
    {
      onBatch(batch) {
        if (batch.schema.table === 'users')
          throw Object.assign(new Error('bad'), { code: 'EBADUSER' })
        if (!failedOnce) {
          failedOnce = true
          throw Object.assign(new Error('reset'), { code: 'ECONNRESET' })
        }
      },
    },
    database,
  )
  const batch = createBatchSQL({
    executor: createExecutor(processor, {
      concurrency: 2,
      retry: { initialDelayMs: 1, maxDelayMs: 2 },
      metrics,
    }),
    flushSize: 100,
    flushInterval: 10,
    metrics,
  })
  for (let i = 0; i < 1000; i++) await batch.submit(events, { id: i, kind: 'k' })
  for (let i = 0; i < 10; i++) await batch.submit(users, { id: i })
  await batch.submit(events, { id: 1, kind: 42 } as never).catch(() => {})
  await batch.close()
  await batch.submit(events, { id: 2, kind: 'late' }).catch(() => {})
}
