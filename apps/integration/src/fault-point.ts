/**
 * When a fault scenario injects its fault: once `at` rows are committed, so that the pipeline
 * has live connections to drop and rows are still written after it. Producers wait at `holdAt`
 * rows submitted for it. The wait must end also when that point cannot come (nothing commits):
 * else producers stay held and the run hangs for ever.
 */
import { DEFAULT_TIMEOUT_MS, retryPolicy } from '@batchsql/core'
import type { Scenario } from './scenarios.js'

/** What the wait needs to read of the pipeline (`BatchSQL.stats()`). */
export interface PipelineProgress {
  committed: number
  failed: number
  pending: number
  waitingSubmits: number
  inFlightBatches: number
}

export type FaultPoint = { reached: true } | { reached: false; why: string; failed: boolean }

/**
 * How long the wait goes on without a single row committed: the longest one batch may take to
 * settle under the scenario's settings (a flush interval, then every attempt running to the
 * attempt timeout with the longest backoff between). A pipeline that commits nothing for so
 * long is not slow but stuck.
 */
export function faultPatienceMs(
  scenario: Pick<Scenario, 'flushInterval' | 'retry'>,
  attemptTimeoutMs = DEFAULT_TIMEOUT_MS,
): number {
  const policy = retryPolicy(scenario.retry)
  let backoff = 0
  for (let attempt = 1; attempt < policy.maxAttempts; attempt++)
    backoff += Math.min(
      policy.maxDelayMs,
      policy.initialDelayMs * policy.multiplier ** (attempt - 1),
    )
  return scenario.flushInterval + policy.maxAttempts * attemptTimeoutMs + backoff
}

export function untilFaultPoint(options: {
  at: number
  holdAt: number
  patienceMs: number
  submitted: () => number
  progress: () => PipelineProgress
  stop: AbortSignal
  pollMs?: number
}): Promise<FaultPoint> {
  const { at, holdAt, patienceMs, submitted, progress, stop } = options
  let lastCommitted = -1
  let lastProgressAt = Date.now()
  return new Promise((resolve) => {
    const poll = setInterval(() => {
      const end = (point: FaultPoint) => {
        clearInterval(poll)
        resolve(point)
      }
      // Interrupted before it: nothing to wait for any more (the run fails as interrupted).
      if (stop.aborted)
        return end({ reached: false, why: 'the run was interrupted first', failed: false })
      const p = progress()
      if (p.committed >= at) return end({ reached: true })
      const now = Date.now()
      if (p.committed !== lastCommitted) {
        lastCommitted = p.committed
        lastProgressAt = now
      }
      // Producers held, every row they submitted settled: nothing more can commit.
      const idle = p.pending === 0 && p.inFlightBatches === 0 && p.waitingSubmits === 0
      if (idle && submitted() >= holdAt) {
        return end({
          reached: false,
          why: `${p.committed} of the ${at} committed rows it waits for were committed, and no more can follow (${p.failed} row(s) failed, none pending)`,
          failed: true,
        })
      }
      if (now - lastProgressAt >= patienceMs) {
        return end({
          reached: false,
          why: `no row committed for ${Math.round(patienceMs / 100) / 10} s (longer than a batch's retries may take), ${p.committed} of the ${at} committed rows it waits for`,
          failed: true,
        })
      }
    }, options.pollMs ?? 5)
  })
}
