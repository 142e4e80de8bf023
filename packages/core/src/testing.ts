/**
 * Test helpers for applications that use BatchSQL: a processor and an executor that record
 * every batch instead of writing it, with optional injected failures and delays.
 *
 *     import { MockExecutor } from '@batchsql/core/testing'
 *     const executor = new MockExecutor()
 *     const batch = createBatchSQL({ executor })
 *     ...
 *     expect(executor.rows('events')).toHaveLength(3)
 */
import type { Batch, BatchProcessor, ProcessContext, ProcessResult } from './contract.js'
import { type ExecutorOptions, RetryingExecutor } from './executor.js'
import { sleep } from './retry.js'
import type { AnyRow } from './schema.js'

export interface RecordedBatch {
  readonly table: string
  readonly attempt: number
  /** Plain-object copies of the rows, in the order received. */
  readonly rows: readonly AnyRow[]
}

export interface MockBehaviour {
  /** Throw to fail the whole attempt; return row failures to fail some rows only. */
  onBatch?: (
    batch: Batch,
    ctx: ProcessContext,
  ) => ProcessResult | undefined | void | Promise<ProcessResult | undefined | void>
  /** Milliseconds each attempt takes (honours the abort signal). */
  delayMs?: number
}

/** Records committed batches. Rows of a failed attempt are not recorded as committed. */
export class MockProcessor implements BatchProcessor {
  readonly name: string
  readonly batches: RecordedBatch[] = []
  readonly attempts: RecordedBatch[] = []
  running = 0
  maxRunning = 0
  closed = false

  constructor(
    private readonly behaviour: MockBehaviour = {},
    name = 'mock',
  ) {
    this.name = name
  }

  async process(batch: Batch, ctx: ProcessContext): Promise<ProcessResult | undefined> {
    this.running++
    this.maxRunning = Math.max(this.maxRunning, this.running)
    try {
      const rec: RecordedBatch = {
        table: batch.schema.table,
        attempt: ctx.attempt,
        rows: batch.rows.map((r) => r.toObject()),
      }
      this.attempts.push(rec)
      if (this.behaviour.delayMs) await sleep(this.behaviour.delayMs, ctx.signal, 'aborted')
      const result = (await this.behaviour.onBatch?.(batch, ctx)) ?? undefined
      const failed = new Set((result?.failures ?? []).map((f) => f.index))
      this.batches.push({ ...rec, rows: rec.rows.filter((_, i) => !failed.has(i)) })
      return result
    } finally {
      this.running--
    }
  }

  /** Every committed row of a table, in commit order. */
  rows(table?: string): AnyRow[] {
    return this.batches
      .filter((b) => table === undefined || b.table === table)
      .flatMap((b) => b.rows)
  }

  async close(): Promise<void> {
    this.closed = true
  }
}

/** A `RetryingExecutor` over a `MockProcessor`: the real retry/limit/timeout logic, no sink. */
export class MockExecutor extends RetryingExecutor {
  declare readonly processor: MockProcessor
  constructor(behaviour: MockBehaviour = {}, options: ExecutorOptions = {}) {
    super(new MockProcessor(behaviour), options)
  }
  get batches(): RecordedBatch[] {
    return this.processor.batches
  }
  rows(table?: string): AnyRow[] {
    return this.processor.rows(table)
  }
}
