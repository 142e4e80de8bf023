import { vi } from 'vitest'
import type {
  Batch,
  BatchProcessor,
  CloseResult,
  ProcessContext,
  ProcessResult,
} from '../src/index.js'
import { createBatchSQL, createExecutor, type ExecutorOptions } from '../src/index.js'

/** A processor whose batches wait until the test releases them: no timing assumptions. */
export class GatedProcessor implements BatchProcessor {
  readonly name = 'gated'
  readonly received: Batch[] = []
  private gates: (() => void)[] = []
  private arrivals: (() => void)[] = []
  running = 0
  maxRunning = 0

  constructor(
    private readonly behaviour?: (batch: Batch, ctx: ProcessContext) => ProcessResult | undefined,
  ) {}

  async process(batch: Batch, ctx: ProcessContext): Promise<ProcessResult | undefined> {
    this.running++
    this.maxRunning = Math.max(this.maxRunning, this.running)
    this.received.push(batch)
    for (const a of this.arrivals.splice(0)) a()
    try {
      await new Promise<void>((resolve, reject) => {
        this.gates.push(resolve)
        ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true })
      })
      return this.behaviour?.(batch, ctx)
    } finally {
      this.running--
    }
  }

  /** Resolves once at least `n` batches have arrived in total. */
  async waitFor(n: number): Promise<void> {
    while (this.received.length < n) await new Promise<void>((r) => this.arrivals.push(r))
  }

  /** Lets every batch that is waiting complete. */
  releaseAll(): void {
    for (const g of this.gates.splice(0)) g()
  }
}

export function gatedExecutor(
  options: ExecutorOptions = {},
  behaviour?: ConstructorParameters<typeof GatedProcessor>[0],
) {
  const processor = new GatedProcessor(behaviour)
  return {
    processor,
    executor: createExecutor(processor, {
      retry: { initialDelayMs: 1, maxDelayMs: 2 },
      ...options,
    }),
  }
}

export const tick = () => new Promise<void>((r) => setImmediate(r))

/**
 * A pipeline over a gated processor with one batch and one flush at a time and no interval
 * flushes: the tests decide when anything completes, so backpressure is deterministic.
 */
export function oneFlushAtATime(flushSize: number, bufferSize: number) {
  const { processor, executor } = gatedExecutor({ concurrency: 1 })
  const b = createBatchSQL({
    executor,
    flushSize,
    bufferSize,
    maxInFlightFlushes: 1,
    flushInterval: 60_000,
  })
  return { processor, b }
}

/** Closes the pipeline, releasing every batch the gated processor holds until it has closed. */
export async function closeReleasing(
  b: { close(): Promise<CloseResult>; stats(): { state: string } },
  processor: { releaseAll(): void },
): Promise<CloseResult> {
  const closing = b.close()
  while (b.stats().state !== 'closed') {
    processor.releaseAll()
    await tick()
  }
  return closing
}

/**
 * Runs `body` on a fake clock (timers and `performance.now`, which the pipeline reads): what
 * it asserts about time is the clock's, not the machine's.
 */
export async function withFakeClock(body: () => Promise<void>): Promise<void> {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] })
  try {
    await body()
  } finally {
    vi.useRealTimers()
  }
}
