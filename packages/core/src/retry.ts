import { AbortedError, BatchSQLError } from './errors.js'
import { MAX_TIMER_MS } from './timers.js'

export interface RetryPolicy {
  /** Attempts in all, the first included. Default 3; 1 disables retries. */
  maxAttempts: number
  /** Backoff before the second attempt. Default 50 ms. */
  initialDelayMs: number
  /** Upper bound of one backoff. Default 5 s. */
  maxDelayMs: number
  /**
   * Growth per attempt. Default 2. Any number >= 1, `Infinity` included (the second backoff is
   * then `maxDelayMs`); with `initialDelayMs: 0` every backoff is 0, whatever the multiplier.
   */
  multiplier: number
  /**
   * `full` (default): a uniformly random delay in [0, computed], which spreads retries of
   * batches that failed together (e.g. on one deadlock) so they do not collide again.
   * `none`: exactly the computed delay.
   */
  jitter: 'full' | 'none'
}

/** A retry option: any fields of a policy, `undefined` ones keeping their default. */
export type RetryOptions = { [K in keyof RetryPolicy]?: RetryPolicy[K] | undefined }

export const defaultRetryPolicy: RetryPolicy = {
  maxAttempts: 3,
  initialDelayMs: 50,
  maxDelayMs: 5_000,
  multiplier: 2,
  jitter: 'full',
}

/**
 * `defaultRetryPolicy` with the fields of `given` that are set, checked. An `undefined` field
 * (an optional setting passed through) keeps its default instead of turning the backoff into
 * NaN; a negative, infinite or non-numeric one is an error, not a silent zero delay.
 */
export function retryPolicy(given?: RetryOptions | null): RetryPolicy {
  const policy: RetryPolicy = { ...defaultRetryPolicy }
  const bad = (what: string) => new BatchSQLError('BATCHSQL_INVALID_CONFIG', `retry.${what}`)
  // `retry: 5` or a misspelt `maxAttemps` would otherwise leave the defaults on in silence.
  if (given != null && typeof given !== 'object')
    throw new BatchSQLError(
      'BATCHSQL_INVALID_CONFIG',
      'retry must be an object of RetryPolicy fields',
    )
  for (const [k, v] of Object.entries(given ?? {})) {
    if (!Object.hasOwn(defaultRetryPolicy, k))
      throw bad(`${k} is not a retry option (${Object.keys(defaultRetryPolicy).join(', ')})`)
    if (v !== undefined) (policy as unknown as Record<string, unknown>)[k] = v
  }
  if (!Number.isInteger(policy.maxAttempts) || policy.maxAttempts < 1)
    throw bad('maxAttempts must be an integer >= 1')
  const { initialDelayMs, maxDelayMs } = policy
  if (typeof initialDelayMs !== 'number' || !(initialDelayMs >= 0) || initialDelayMs > MAX_TIMER_MS)
    throw bad(`initialDelayMs must be a number of ms between 0 and ${MAX_TIMER_MS}`)
  // Infinity: no cap (a delay is still held to what a timer can wait, in backoffDelay).
  if (typeof maxDelayMs !== 'number' || !(maxDelayMs >= 0))
    throw bad('maxDelayMs must be a number of ms >= 0 (Infinity: no cap)')
  if (typeof policy.multiplier !== 'number' || !(policy.multiplier >= 1))
    throw bad('multiplier must be >= 1')
  if (policy.jitter !== 'full' && policy.jitter !== 'none') throw bad('jitter must be full or none')
  return policy
}

/** Delay before attempt `attempt + 1`, given that `attempt` (1-based) just failed. */
export function backoffDelay(
  policy: RetryPolicy,
  attempt: number,
  random: () => number = Math.random,
): number {
  // No initial delay means none at all: computed, 0 x Infinity (a `multiplier` of Infinity,
  // or one whose power overflows) would be NaN, which a timer takes as 1 ms with a warning.
  const base =
    policy.initialDelayMs === 0
      ? 0
      : Math.min(
          policy.maxDelayMs,
          MAX_TIMER_MS,
          policy.initialDelayMs * policy.multiplier ** (attempt - 1),
        )
  return policy.jitter === 'full' ? Math.floor(random() * base) : base
}

/** Sleeps, rejecting with AbortedError as soon as the signal fires. */
export function sleep(
  ms: number,
  signal?: AbortSignal,
  what = 'aborted during backoff',
): Promise<void> {
  if (signal?.aborted) return Promise.reject(new AbortedError(what, signal.reason))
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer)
      reject(new AbortedError(what, signal?.reason))
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
