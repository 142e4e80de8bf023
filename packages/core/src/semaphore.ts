import { AbortedError, BatchSQLError } from './errors.js'

/**
 * A counting semaphore with FIFO waiters. `acquire()` honours an AbortSignal so a batch that
 * is cancelled while queued for a slot never takes one.
 */
export class Semaphore {
  private available: number
  private readonly waiters: {
    resolve: () => void
    reject: (e: unknown) => void
    signal?: AbortSignal
    onAbort?: () => void
  }[] = []
  /** Highest number of slots ever held at once; tests assert the limit with it. */
  maxHeld = 0

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1)
      throw new BatchSQLError(
        'BATCHSQL_INVALID_CONFIG',
        'semaphore limit must be a positive integer',
      )
    this.available = limit
  }

  get held(): number {
    return this.limit - this.available
  }

  acquire(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted)
      return Promise.reject(
        new AbortedError('aborted while waiting for a concurrency slot', signal.reason),
      )
    if (this.available > 0 && this.waiters.length === 0) {
      this.take()
      return Promise.resolve()
    }
    return new Promise<void>((resolve, reject) => {
      const w: (typeof this.waiters)[number] = { resolve, reject, signal }
      if (signal) {
        w.onAbort = () => {
          const i = this.waiters.indexOf(w)
          if (i >= 0) this.waiters.splice(i, 1)
          reject(new AbortedError('aborted while waiting for a concurrency slot', signal.reason))
        }
        signal.addEventListener('abort', w.onAbort, { once: true })
      }
      this.waiters.push(w)
    })
  }

  release(): void {
    const w = this.waiters.shift()
    if (w) {
      if (w.onAbort) w.signal?.removeEventListener('abort', w.onAbort)
      // The slot passes straight to the next waiter: `available` does not change.
      w.resolve()
      return
    }
    this.available++
  }

  private take(): void {
    this.available--
    if (this.held > this.maxHeld) this.maxHeld = this.held
  }
}
