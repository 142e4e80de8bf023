import { describe, expect, it, vi } from 'vitest'
import {
  CloseFailedError,
  createBatchSQL,
  defineSchema,
  type MetricsReporter,
  NoopMetricsReporter,
} from '../src/index.js'
import { MockExecutor } from '../src/testing.js'

const events = defineSchema({ table: 'events', columns: { id: 'int' } })
const users = defineSchema({
  table: 'users',
  columns: { id: 'int', name: 'string' },
  strategy: 'update',
  conflictColumns: ['id'],
})

/** A reporter of which every method throws: a metrics backend that is down, or a bug. */
function throwingReporter(): MetricsReporter {
  const r = new NoopMetricsReporter()
  for (const m of Object.getOwnPropertyNames(NoopMetricsReporter.prototype)) {
    if (m === 'constructor') continue
    ;(r as unknown as Record<string, () => void>)[m] = () => {
      throw new Error('metrics backend down')
    }
  }
  return r
}

describe('a metrics reporter that throws', () => {
  it('loses no row and never reports a committed row as failed', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {})
    try {
      const executor = new MockExecutor()
      const b = createBatchSQL({ executor, flushSize: 2, metrics: throwingReporter() })
      // Through the size flush (submit), the interval flush and close().
      await b.submit(events, { id: 1 })
      await b.submit(events, { id: 2 })
      const acked = b.submitAndWait(events, { id: 3 })
      await expect(acked).resolves.toBeUndefined()
      const result = await b.close()
      expect(result).toMatchObject({ accepted: 3, committed: 3, failed: 0 })
      expect(executor.rows('events').map((r) => r.id)).toEqual([1, 2, 3])
      // Said once, not once per call.
      expect(warn).toHaveBeenCalledTimes(1)
      expect(warn.mock.calls[0]![1]).toMatchObject({ code: 'BATCHSQL_METRICS_FAILED' })
    } finally {
      warn.mockRestore()
    }
  })

  it('set on the executor afterwards is guarded too', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {})
    try {
      const executor = new MockExecutor()
      const b = createBatchSQL({ executor, flushSize: 1 })
      executor.metrics = throwingReporter()
      await expect(b.submitAndWait(events, { id: 1 })).resolves.toBeUndefined()
      expect((await b.close()).committed).toBe(1)
    } finally {
      warn.mockRestore()
    }
  })

  it('leaves no key-order entry behind when its key-order wait call throws', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {})
    try {
      // Each batch shares key 1 with the one before it, so each waits and reports its wait.
      const executor = new MockExecutor({ delayMs: 5 }, { concurrency: 4 })
      const b = createBatchSQL({ executor, flushSize: 1, metrics: throwingReporter() })
      const acks = ['a', 'b', 'c'].map((name) => b.submitAndWait(users, { id: 1, name }))
      await Promise.all(acks)
      const result = await b.close()
      expect(result).toMatchObject({ committed: 3, failed: 0 })
      expect(executor.rows('users').map((r) => r.name)).toEqual(['a', 'b', 'c'])
    } finally {
      warn.mockRestore()
    }
  })
})

describe('a sink whose close() fails', () => {
  it('rejects close() and done with CloseFailedError, result included', async () => {
    const executor = new MockExecutor()
    executor.processor.close = async () => {
      throw new Error('pool.end failed')
    }
    const b = createBatchSQL({ executor })
    await b.submit(events, { id: 1 })
    const err = await b.close().catch((e: unknown) => e)
    expect(err).toBeInstanceOf(CloseFailedError)
    expect((err as CloseFailedError).code).toBe('BATCHSQL_CLOSE_FAILED')
    expect((err as CloseFailedError).result).toMatchObject({ committed: 1, failed: 0 })
    expect(((err as Error).cause as Error).message).toBe('pool.end failed')
    await expect(b.done).rejects.toBe(err)
    expect(b.stats().state).toBe('closed')
  })

  it('raises no unhandled rejection when a signal closed the pipeline', async () => {
    const executor = new MockExecutor()
    executor.processor.close = async () => {
      throw new Error('pool.end failed')
    }
    const unhandled: unknown[] = []
    const onUnhandled = (e: unknown) => unhandled.push(e)
    process.on('unhandledRejection', onUnhandled)
    try {
      const ctl = new AbortController()
      const b = createBatchSQL({ executor, signal: ctl.signal })
      await b.submit(events, { id: 1 })
      ctl.abort()
      await expect(b.done).rejects.toBeInstanceOf(CloseFailedError)
      // Let any unhandled rejection surface (they are reported after a macrotask).
      await new Promise((r) => setTimeout(r, 20))
      expect(unhandled).toEqual([])
      expect(executor.rows('events')).toHaveLength(1)
    } finally {
      process.off('unhandledRejection', onUnhandled)
    }
  })
})
