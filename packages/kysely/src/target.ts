import { BatchSQLError } from '@batchsql/core'
import type { Kysely } from 'kysely'

/**
 * What each dialect factory asks of its `target` argument: is it a Kysely instance (used as
 * it is), and otherwise is it something the factory may turn into a connection of its own.
 */

/** Duck-typed, so that a Kysely instance from another copy of the kysely package is one too. */
export function isKysely(x: unknown): x is Kysely<any> {
  return (
    typeof x === 'object' &&
    x !== null &&
    typeof (x as Kysely<any>).insertInto === 'function' &&
    typeof (x as Kysely<any>).executeQuery === 'function'
  )
}

/**
 * Throws `BATCHSQL_INVALID_CONFIG` unless `target` is a string or a plain options object.
 * Called once the factory has ruled out its driver's pool and Kysely: anything else (a pool
 * wrapped as `{ pool }`, another driver's pool) would become connection options the driver
 * mostly ignores, and BatchSQL would write through a default connection of its own while the
 * caller's sat unused.
 */
export function checkConnectionOptions(target: unknown, factory: string, expected: string): void {
  if (typeof target === 'string') return
  const proto = typeof target === 'object' && target !== null && Object.getPrototypeOf(target)
  if ((proto === Object.prototype || proto === null) && !('pool' in (target as object))) return
  throw new BatchSQLError('BATCHSQL_INVALID_CONFIG', `${factory} needs ${expected}`)
}

/**
 * Throws `BATCHSQL_INVALID_CONFIG` when the connection a factory would open itself names no
 * server or is another database's URL. `url` is the target string or its options' URL field;
 * `accepted` the forms the driver reads as its own. Drivers read any string as theirs (pg took
 * a `mysql://` URL as that host's port 5432, mysql2 ignores the scheme) and empty options as a
 * local default server, so the mistake showed only as failed batches, if at all. Messages name
 * the scheme given, never the URL (it may hold a password).
 */
export function checkConnectionUrl(
  target: string | object,
  url: unknown,
  o: {
    factory: string
    accepted: RegExp
    /** What the factory needs, e.g. `a postgres:// connection string`. */
    wanted: string
    /** What empty options are called, e.g. `a PoolConfig that sets nothing: give …`. */
    empty: string
  },
): void {
  if (typeof target !== 'string') {
    if (Object.values(target).every((v) => v === undefined))
      throw new BatchSQLError('BATCHSQL_INVALID_CONFIG', `${o.factory} got ${o.empty}`)
    if (url === undefined) return
  }
  if (typeof url === 'string' && o.accepted.test(url)) return
  const scheme = typeof url === 'string' ? /^([a-z][a-z0-9+.-]*:)\/\//i.exec(url)?.[1] : undefined
  const got =
    scheme !== undefined
      ? `a ${scheme}// URL`
      : typeof url === 'string'
        ? 'a string without that scheme'
        : `a ${url === null ? 'null' : typeof url}`
  throw new BatchSQLError('BATCHSQL_INVALID_CONFIG', `${o.factory} needs ${o.wanted}, not ${got}`)
}
