/**
 * One run per server database. The app's tables have fixed names (`batchsql_<scenario>`), so
 * two runs against one PostgreSQL or MariaDB database (or Redis database index) would drop,
 * write and read each other's tables, and both would report losses that BatchSQL never made.
 * A run therefore holds a lock on the database while it runs its scenarios there, and a
 * second run is refused that database at the start with a message saying so, instead of
 * corrupting both verdicts: PostgreSQL a session advisory lock, MariaDB a named lock
 * (`GET_LOCK`) for the database, both held by a connection of their own and released by the
 * server when it ends (also when the run is killed); Redis a key set if absent with a TTL
 * that the run keeps refreshing (a killed run's lock expires). Producer processes
 * (`--processes N`) work under their parent's lock and take none. SQLite files are claimed
 * per run instead (sqlite-file.ts).
 *
 * A lock can be lost mid-run: a server restart ends the lock's connection (and its lock) and
 * empties Redis, an administrator kills the connection or deletes the key. The run notices (the
 * connection's end; Redis: the refresh, and a check before and after every scenario) and takes
 * the lock again at once if it is free, saying so in the log; the server gets
 * `RETAKE_WITHIN_MS` to come back. If another run took it meanwhile, or it cannot be taken
 * again, the lock is lost for good: the scenario during which it was lost fails (another run
 * may have used its table), the database's remaining scenarios do not run, and the report
 * says why (exit code 1).
 */

/** The lock's name, also the Redis key's prefix (never a table's: those use underscores). */
export const RUN_LOCK_NAME = 'batchsql-integration'

/** Another run of the app holds the database; this run does not use it. */
export class DatabaseInUseError extends Error {}

export interface RunLock {
  /** Ends the claim (idempotent). */
  release(): Promise<void>
  /**
   * Why the claim was lost for good (for the report), once it was; undefined while it holds
   * (again). Waits for a loss being handled (the lock being taken again) to be decided.
   */
  lost(): Promise<string | undefined>
}

/** Where a lock says that it was lost and taken again (the run's log). */
export type LockLog = (line: string) => void

/** How long a lost lock is tried again while its server does not answer (a restart). */
export const RETAKE_WITHIN_MS = 10_000

/** A claim held by a connection of its own (PostgreSQL, MariaDB), which ends with it. */
export interface LockSession {
  /** Ends the connection, and the claim with it. */
  end(): Promise<void>
  /** Calls `cb` once if the connection ends other than by `end()` (killed, server restarted). */
  onLost(cb: (why: string) => void): void
}

/** The words for a lock lost for good, the same for every database. */
export function lostFor(what: string, why: string, outcome: string): string {
  return `the run lock on ${what} was lost mid-run (${why}) and ${outcome}`
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * Holds a claim taken by `take` (which throws `DatabaseInUseError` while another run holds
 * it): when its connection is lost, takes it again (see the top of this file).
 */
export async function heldBySession(
  what: string,
  take: () => Promise<LockSession>,
  log: LockLog,
  retakeWithinMs = RETAKE_WITHIN_MS,
): Promise<RunLock> {
  let session = await take()
  let released = false
  let lostWhy: string | undefined
  let retaking: Promise<void> = Promise.resolve()
  const watch = (s: LockSession) =>
    s.onLost((why) => {
      if (released || s !== session || lostWhy !== undefined) return
      retaking = retake(why)
    })
  const retake = async (why: string) => {
    log(`note: the run lock on ${what} was lost mid-run (${why}): taking it again`)
    const deadline = Date.now() + retakeWithinMs
    for (;;) {
      try {
        const s = await take()
        if (released) return void (await s.end())
        session = s
        watch(s)
        log(`note: the run lock on ${what} was taken again (no other run had taken it)`)
        return
      } catch (err) {
        const taken = err instanceof DatabaseInUseError
        if (released || (!taken && Date.now() < deadline)) {
          if (released) return
          await sleep(250)
          continue
        }
        lostWhy = lostFor(
          what,
          why,
          taken
            ? 'another run holds it now'
            : `could not be taken again within ${retakeWithinMs / 1000} s: ${(err as Error).message}`,
        )
        log(`FAIL ${lostWhy}`)
        return
      }
    }
  }
  watch(session)
  let ended: Promise<void> | undefined
  return {
    async lost() {
      await retaking
      return lostWhy
    },
    release() {
      released = true
      ended ??= retaking
        .then(() => session.end())
        .then(
          () => {},
          () => {},
        )
      return ended
    },
  }
}

/** The refusal, the same words for every database. */
export function inUse(what: string, holder = ''): DatabaseInUseError {
  return new DatabaseInUseError(
    `${what} is in use by another run of this app${holder}: its tables have fixed names, so one database takes one run at a time (give concurrent runs different databases)`,
  )
}
