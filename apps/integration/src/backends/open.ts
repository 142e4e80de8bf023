import type { AppConfig, DatabaseName } from '../config.js'
import type { Backend } from './backend.js'
import type { LockLog, RunLock } from './run-lock.js'

/** Opens a backend; drivers are imported lazily so a SQLite-only run loads no server driver. */
export async function openBackend(
  name: DatabaseName,
  config: AppConfig,
  baseDir: string,
  /** A producer process opens what the main process prepared (SQLite: never recreate the file). */
  child = false,
): Promise<Backend> {
  switch (name) {
    case 'sqlite': {
      const { resolve } = await import('node:path')
      const { openSqlite } = await import('./sqlite.js')
      return openSqlite(resolve(baseDir, config.sqlitePath), !child, config.keepTables)
    }
    case 'postgres':
      return (await import('./postgres.js')).openPostgres(
        config.postgresUrl,
        config.connectTimeoutMs,
      )
    case 'mysql':
      return (await import('./mysql.js')).openMysql(config.mysqlUrl, config.connectTimeoutMs)
    case 'redis':
      return (await import('./redis.js')).openRedis(config.redisUrl, config.connectTimeoutMs)
  }
}

/**
 * Claims a server database for this run (see run-lock.ts), or throws `DatabaseInUseError`;
 * SQLite: nothing to claim here (its file is claimed when it is opened).
 */
export async function lockDatabase(
  name: DatabaseName,
  config: AppConfig,
  /** Where a lock lost mid-run says so (run-lock.ts). */
  log: LockLog,
): Promise<RunLock | undefined> {
  switch (name) {
    case 'sqlite':
      return undefined
    case 'postgres':
      return (await import('./postgres.js')).lockPostgres(
        config.postgresUrl,
        config.connectTimeoutMs,
        log,
      )
    case 'mysql':
      return (await import('./mysql.js')).lockMysql(config.mysqlUrl, config.connectTimeoutMs, log)
    case 'redis':
      return (await import('./redis.js')).lockRedis(config.redisUrl, config.connectTimeoutMs, log)
  }
}
