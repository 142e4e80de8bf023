/**
 * Waits for `work` unless `signal` aborts first: then resolves `undefined` at once, and the
 * work, left to finish on its own, hands what it produced to `discard` (a connection opened
 * too late is closed, not leaked). Why: a signal must stop the run at any stage, also while
 * a driver waits on a server that never answers.
 */
export function unlessAborted<T>(
  work: Promise<T>,
  signal: AbortSignal,
  discard: (value: T) => void,
): Promise<T | undefined> {
  if (signal.aborted) {
    work.then(discard, () => {})
    return Promise.resolve(undefined)
  }
  return new Promise<T | undefined>((resolve, reject) => {
    let abandoned = false
    const onAbort = () => {
      abandoned = true
      resolve(undefined)
    }
    signal.addEventListener('abort', onAbort, { once: true })
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort)
        if (abandoned) discard(value)
        else resolve(value)
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort)
        // Failing after the run was stopped: nobody waits for it any more.
        if (!abandoned) reject(err)
      },
    )
  })
}
