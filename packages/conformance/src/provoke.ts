/**
 * A real deadlock and a real lock wait, provoked on the target's own `session()` connections
 * with plain SQL (BEGIN, `UPDATE … SET n = n + 1 WHERE id = …`, ROLLBACK), so that a server
 * dialect need not write them: the suite falls back to `crossRowLocks` when a target gives
 * `session()` and no `provokeDeadlock`. A lock wait needs the dialect's own statement that
 * bounds it on one connection, so a target calls `waitOnRowLock` itself with that statement.
 */
import type { BareSession, ConformanceTarget } from './target.js'

type Sessions = Pick<ConformanceTarget, 'quote' | 'session'>

async function twoSessions(target: Sessions): Promise<[BareSession, BareSession]> {
  if (target.session === undefined) throw new Error('the target gives no session()')
  const a = await target.session()
  const b = await target.session().catch(async (e: unknown) => {
    await a.release()
    throw e
  })
  return [a, b]
}

/** The statement that locks row `id` of `table` (the suite's `id`, `n` table) for its transaction. */
const bump = (target: Sessions, table: string, id: number) =>
  `UPDATE ${target.quote(table)} SET ${target.quote('n')} = ${target.quote('n')} + 1 WHERE ${target.quote('id')} = ${id}`

const settle = (p: Promise<void>): Promise<unknown> =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  )

// Both rows are locked before either transaction asks for the other's, so one of them must
// be chosen as the victim; the pause lets the first request queue on its lock first, so the
// second one closes the cycle (and is the one most servers pick).
const QUEUE_MS = 50
// A lock wait that `bound.set` did not bound would hold the case for ever: past this the
// holder lets go, and the error returned says why.
const PATIENCE_MS = 20_000

/**
 * Two transactions on `table` (rows 1 and 2, as the suite creates them) each lock one row and
 * then ask for the other's: returns the error of the transaction the server gave up.
 */
export async function crossRowLocks(target: Sessions, table: string): Promise<unknown> {
  const update = (id: number) => bump(target, table, id)
  const [a, b] = await twoSessions(target)
  try {
    await a.exec('BEGIN')
    await b.exec('BEGIN')
    await a.exec(update(1))
    await b.exec(update(2))
    const waitA = settle(a.exec(update(2)))
    await new Promise((r) => setTimeout(r, QUEUE_MS))
    const waitB = settle(b.exec(update(1)))
    const [ea, eb] = await Promise.all([waitA, waitB])
    return ea ?? eb
  } finally {
    await settle(a.exec('ROLLBACK'))
    await settle(b.exec('ROLLBACK'))
    await a.release()
    await b.release()
  }
}

/**
 * One transaction holds row 1 of `table`; another connection, its lock wait bounded by
 * `bound.set` (e.g. PostgreSQL `SET lock_timeout = '200ms'`, MySQL
 * `SET SESSION innodb_lock_wait_timeout = 1`), updates the same row: returns its error.
 * `bound.reset` restores the connection before it goes back to the pool. A wait still running
 * after `bound.patienceMs` (20 s) is ended by the holder, and the error returned says the
 * wait was not bounded.
 */
export async function waitOnRowLock(
  target: Sessions,
  table: string,
  bound: { set: string; reset: string; patienceMs?: number },
): Promise<unknown> {
  const update = bump(target, table, 1)
  const [holder, waiter] = await twoSessions(target)
  try {
    await holder.exec('BEGIN')
    await holder.exec(update)
    await waiter.exec(bound.set)
    const patienceMs = bound.patienceMs ?? PATIENCE_MS
    let unbounded = false
    const guard = setTimeout(() => {
      unbounded = true
      void settle(holder.exec('ROLLBACK'))
    }, patienceMs)
    const err = await settle(waiter.exec(update))
    clearTimeout(guard)
    if (unbounded && err === undefined)
      return new Error(`no lock wait timeout within ${patienceMs} ms after "${bound.set}"`)
    return err
  } finally {
    await settle(holder.exec('ROLLBACK'))
    await settle(waiter.exec(bound.reset))
    await holder.release()
    await waiter.release()
  }
}
