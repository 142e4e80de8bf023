import { AbortedError } from './errors.js'

export interface RetryPolicy {
  /** Attempts in all, the first included. Default 3; 1 disables retries. */
  maxAttempts: number
  /** Backoff before the second attempt. Default 50 ms. */
  initialDelayMs: number
  /** Upper bound of one backoff. Default 5 s. */
  maxDelayMs: number
  /** Growth per attempt. Default 2. */
  multiplier: number
  /**
   * `full` (default): a uniformly random delay in [0, computed], which spreads retries of
   * batches that failed together (e.g. on one deadlock) so they do not collide again.
   * `none`: exactly the computed delay.
   */
  jitter: 'full' | 'none'
}

export const defaultRetryPolicy: RetryPolicy = {
  maxAttempts: 3,
  initialDelayMs: 50,
  maxDelayMs: 5_000,
  multiplier: 2,
  jitter: 'full',
}

/** Delay before attempt `attempt + 1`, given that `attempt` (1-based) just failed. */
export function backoffDelay(
  policy: RetryPolicy,
  attempt: number,
  random: () => number = Math.random,
): number {
  const base = Math.min(
    policy.maxDelayMs,
    policy.initialDelayMs * policy.multiplier ** (attempt - 1),
  )
  return policy.jitter === 'full' ? Math.floor(random() * base) : base
}

/** Sleeps, rejecting with AbortedError as soon as the signal fires. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted)
    return Promise.reject(new AbortedError('aborted during backoff', signal.reason))
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer)
      reject(new AbortedError('aborted during backoff', signal?.reason))
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
