/**
 * How long a connection BatchSQL created may take to close gracefully before it is destroyed.
 * A server answers a close at once; one that takes longer has stopped answering (a paused or
 * partitioned server), and its sockets would keep the process alive until it answers again,
 * however long after `close()` that is (QA 2026-11-29: 40 s, as long as the server was paused).
 */
export const END_GRACE_MS = 1_000

/**
 * Waits for `end` (a pool's or client's graceful close); if it has not settled within `ms`,
 * calls `destroy` (drop the sockets) and waits for `end` at most `ms` more. For connections an
 * adapter created itself: when a pipeline closes its sink, a connection still busy carries a
 * statement whose batch was already given up on and reported (`BATCHSQL_OUTCOME_UNKNOWN` or
 * `BATCHSQL_ABANDONED`), so dropping it loses nothing that was not reported. The timer does not
 * hold the process by itself. `end`'s rejection is thrown, as when it settles in time.
 */
export async function endWithin(
  end: Promise<void>,
  destroy: () => void,
  ms: number = END_GRACE_MS,
): Promise<void> {
  const ended = end.then(
    () => ({ ok: true as const }),
    (error: unknown) => ({ ok: false as const, error }),
  )
  let settled = await within(ended, ms)
  if (settled === undefined) {
    destroy()
    settled = await within(ended, ms)
  }
  if (settled !== undefined && !settled.ok) throw settled.error
}

/** `p`'s value, or undefined if it has not settled within `ms`. */
async function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms)
    timer.unref?.()
  })
  try {
    return await Promise.race([p, late])
  } finally {
    clearTimeout(timer)
  }
}
