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
 */

/** The lock's name, also the Redis key's prefix (never a table's: those use underscores). */
export const RUN_LOCK_NAME = 'batchsql-integration'

/** Another run of the app holds the database; this run does not use it. */
export class DatabaseInUseError extends Error {}

export interface RunLock {
  /** Ends the claim (idempotent). */
  release(): Promise<void>
}

/** A claim released by `end`, once however often `release()` is called. */
export function heldUntil(end: () => Promise<unknown>): RunLock {
  let ended: Promise<void> | undefined
  return {
    release() {
      ended ??= end().then(
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
