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
