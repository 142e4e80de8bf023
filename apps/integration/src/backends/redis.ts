import { randomUUID } from 'node:crypto'
import { hostname } from 'node:os'
import { createRedisBatchSQL, redisSchemas } from '@batchsql/redis'
import { Redis } from 'ioredis'
import { type AppRow, canonicalLine } from '../rows.js'
import { type Backend, type PipelineOptions, STRATEGIES, type Strategy } from './backend.js'
import { connectWithin, hostOf } from './connect-deadline.js'
import { inUse, type LockLog, lostFor, RUN_LOCK_NAME, type RunLock } from './run-lock.js'

/**
 * What one key under a table's prefix holds, as the values of its rows (the line after
 * `<id>|`). A hash table's key is a hash with the one field `row`; a keyless table's, a list
 * of rows. Only a poison id's key may hold something else unread (the string that makes its
 * HSET fail). Anything else under the prefix is data the run did not write (or a row stored
 * differently from how it was written): it is read as a row that matches nothing, so the
 * verifier counts it, as unexpected for an id that was not written and as wrong for one that
 * was, never skipped. So are extra fields beside `row`: the row is not what was written.
 */
function linesOf(
  id: string,
  err: Error | null,
  value: unknown,
  poison: ReadonlySet<string> | undefined,
): string[] {
  if (err !== null) {
    // A poison key holds a string: HGETALL fails with WRONGTYPE, the row is not there.
    if (poison?.has(id) === true && err.message.startsWith('WRONGTYPE')) return []
    return ['<unreadable: not a key this table writes>']
  }
  // A list: one line per element, so a row appended twice is read twice.
  if (Array.isArray(value)) return value.map(String)
  const fields = Object.keys(value as Record<string, string>)
  // No fields: the key is gone (HGETALL of a missing key), nothing to read.
  if (fields.length === 0) return []
  const row = (value as Record<string, string>).row
  if (row === undefined) return ['<a hash without the field "row">']
  if (fields.length > 1) return [`${row}<and ${fields.length - 1} more field(s)>`]
  return [row]
}

/** A connection to `url`'s database index, within the deadline, or a clear error. */
async function connectRedis(url: string, connectTimeoutMs: number): Promise<Redis> {
  // One try, bounded: a server that is down or never answers fails the database at once
  // (ioredis would otherwise reconnect for ever), and its error is not printed as unhandled.
  const client = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 3,
    connectTimeout: connectTimeoutMs,
    retryStrategy: () => null,
  })
  // ioredis rejects a failed connect() with "Connection is closed." alone: keep the cause
  // (ECONNREFUSED, ENOTFOUND) its 'error' event carried, for the message.
  let lastError: Error | undefined
  client.on('error', (e: Error) => {
    lastError = e
  })
  const connecting = (async () => {
    await client.connect()
    // ioredis reports a failed SELECT (a database index the server does not have) only as an
    // 'error' event and stays on database 0: every row would go to the wrong database.
    const db = client.options.db ?? 0
    if (db !== 0) await client.select(db)
  })()
  try {
    // ioredis's connectTimeout ends at the TCP connection: its ready check (INFO) and the
    // SELECT would wait for ever on a server that accepts connections and never answers.
    await connectWithin(connectTimeoutMs, `Redis at ${hostOf(url)}`, connecting, () =>
      client.disconnect(),
    )
  } catch (err) {
    client.disconnect()
    if (lastError !== undefined && !(err as Error).message.includes('CONNECT_TIMEOUT'))
      throw new Error(`Redis at ${hostOf(url)}: ${lastError.message}`, { cause: err })
    throw err
  }
  return client
}

/**
 * Rows become `HSET <table>:<id> row <canonical values>`: the hash field is overwritten
 * by a later write (replace semantics). Redis has no partial-row update of one value, so
 * the `update` scenario does not apply. A poison row's key is created beforehand as a
 * plain string, so its HSET fails with WRONGTYPE. A keyless table's rows become
 * `RPUSH <table>:<id> <canonical values>` instead: a command sent twice appends twice, as an
 * INSERT sent twice into a table without a unique key stores two rows.
 */
export async function openRedis(url: string, connectTimeoutMs: number): Promise<Backend> {
  const reader = await connectRedis(url, connectTimeoutMs)
  // Connected: from now on a dropped connection is retried (the fault scenario drops them).
  reader.options.retryStrategy = (times) => Math.min(times * 50, 2000)
  const clients = new Set<Redis>()
  const schemas = new Map<string, ReturnType<typeof redisSchemas.hset | typeof redisSchemas.push>>()
  const keyless = new Set<string>()
  /** Per table, the ids whose key holds a string on purpose (see `preparePoison`). */
  const poisonIds = new Map<string, ReadonlySet<string>>()
  const schemaOf = (table: string) => {
    let s = schemas.get(table)
    if (s === undefined) {
      const options = { prefix: `${table}:`, name: table }
      s = keyless.has(table)
        ? redisSchemas.push({ ...options, side: 'right' })
        : redisSchemas.hset(options)
      schemas.set(table, s)
    }
    return s
  }
  async function unlinkAll(table: string) {
    let cursor = '0'
    do {
      const [next, keys] = await reader.scan(cursor, 'MATCH', `${table}:*`, 'COUNT', 1000)
      cursor = next
      if (keys.length > 0) await reader.unlink(...keys)
    } while (cursor !== '0')
  }
  return {
    name: 'redis',
    strategies: STRATEGIES.redis,
    async createTable(table, options) {
      if (options?.keyless) keyless.add(table)
      await unlinkAll(table)
    },
    async dropTable(table) {
      poisonIds.delete(table)
      await unlinkAll(table)
    },
    schema: (table, _strategy: Strategy, options) => {
      if (options?.keyless) keyless.add(table)
      return schemaOf(table)
    },
    toSubmit: (table, row) => {
      const line = canonicalLine(row)
      const value = line.slice(line.indexOf('|') + 1)
      return keyless.has(table)
        ? { key: String(row.id), value }
        : { key: String(row.id), field: 'row', value }
    },
    idOf: (submitted) => Number(submitted.key),
    pipeline(o: PipelineOptions) {
      // As the redis README advises: a command whose reply a dropped connection lost is
      // settled by BatchSQL, not re-sent by ioredis.
      const client = new Redis(url, { autoResendUnfulfilledCommands: false })
      client.on('error', () => {})
      clients.add(client)
      const batch = createRedisBatchSQL(client, {
        ...o,
        concurrency: 4,
      })
      void batch.done.finally(() => {
        clients.delete(client)
        client.disconnect()
      })
      return batch
    },
    async readBack(table, onLine) {
      const list = keyless.has(table)
      const poison = poisonIds.get(table)
      // SCAN may return a key more than once (while the server resizes its dictionary): a
      // key read twice would be counted as a duplicated row that the database does not have.
      const seen = new Set<string>()
      let cursor = '0'
      do {
        const [next, found] = await reader.scan(cursor, 'MATCH', `${table}:*`, 'COUNT', 1000)
        cursor = next
        const keys = found.filter((k) => !seen.has(k))
        for (const k of keys) seen.add(k)
        if (keys.length === 0) continue
        const p = reader.pipeline()
        for (const k of keys) {
          if (list) p.lrange(k, 0, -1)
          else p.hgetall(k)
        }
        const res = (await p.exec()) ?? []
        res.forEach(([err, value], i) => {
          const id = keys[i]!.slice(table.length + 1)
          for (const line of linesOf(id, err, value, poison)) onLine(`${id}|${line}`)
        })
      } while (cursor !== '0')
    },
    poison: (row: AppRow) => row,
    async preparePoison(table, ids) {
      poisonIds.set(table, new Set(ids.map(String)))
      const p = reader.pipeline()
      for (const id of ids) p.set(`${table}:${id}`, 'not a hash')
      await p.exec()
    },
    async injectFault() {
      let killed = 0
      for (const c of clients) {
        const id = await c.client('ID').catch(() => undefined)
        if (id !== undefined)
          killed += Number(await reader.client('KILL', 'ID', String(id)).catch(() => 0))
      }
      if (killed === 0) throw new Error('no pipeline connection to kill')
      return `killed ${killed} client connection(s) of the pipeline (CLIENT KILL)`
    },
    async close() {
      for (const c of clients) c.disconnect()
      reader.disconnect()
    },
  }
}

/** The lock key's lifetime: how long a killed run's lock outlives it. */
const LOCK_TTL_MS = 30_000
/**
 * Refreshes the TTL if the lock is this run's (1), or takes it again if it is free (2: a
 * server restart or a DEL lost it); 0: another run holds it now.
 */
const REFRESH =
  "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end " +
  "if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 2 end return 0"
/** Deletes the lock only if it is still this run's. */
const RELEASE =
  "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"

/**
 * Holds this run's claim on the database index (see run-lock.ts): a key set if absent, with a
 * TTL refreshed while the run lasts (a run that was killed leaves a lock that expires within
 * 30 s), deleted at the end. Its value names the run, for the message of the one refused.
 * The refresh, run also on every reconnection and before and after every scenario
 * (`lost()`), notices a key that is gone (a server restart, a DEL) and takes it again, or one
 * that another run holds now; a key that could not be refreshed for its whole TTL may have
 * expired and been taken: the lock is lost.
 */
export async function lockRedis(
  url: string,
  connectTimeoutMs: number,
  log: LockLog = () => {},
): Promise<RunLock> {
  const client = await connectRedis(url, connectTimeoutMs)
  const key = `${RUN_LOCK_NAME}:lock`
  const token = `pid ${process.pid} on ${hostname()} (${randomUUID()})`
  const what = `Redis database ${client.options.db ?? 0} at ${hostOf(url)}`
  try {
    const taken = await client.set(key, token, 'PX', LOCK_TTL_MS, 'NX')
    if (taken !== 'OK') {
      const holder = await client.get(key).catch(() => null)
      const who = holder?.replace(/ \(.*\)$/, '')
      throw inUse(what, who ? ` (${who})` : '')
    }
  } catch (err) {
    client.disconnect()
    throw err
  }
  // A dropped connection is retried from now on, as the reader's.
  client.options.retryStrategy = (times) => Math.min(times * 50, 2000)
  let lostWhy: string | undefined
  let released = false
  let refreshedAt = Date.now()
  let refreshing: Promise<void> | undefined
  const refresh = () => {
    refreshing ??= (async () => {
      try {
        const r = Number(await client.eval(REFRESH, 1, key, token, LOCK_TTL_MS))
        if (released || lostWhy !== undefined) return
        if (r === 0) {
          lostWhy = lostFor(what, 'its key was gone or replaced', 'another run holds it now')
          log(`FAIL ${lostWhy}`)
          return
        }
        refreshedAt = Date.now()
        if (r === 2)
          log(
            `note: the run lock on ${what} was lost mid-run (its key was gone: a server restart or a DEL) and was taken again (no other run had taken it)`,
          )
      } catch (err) {
        if (released || lostWhy !== undefined) return
        if (Date.now() - refreshedAt >= LOCK_TTL_MS) {
          lostWhy = lostFor(
            what,
            `not refreshed for ${LOCK_TTL_MS / 1000} s: ${(err as Error).message}`,
            'may have expired and been taken by another run',
          )
          log(`FAIL ${lostWhy}`)
        }
      } finally {
        refreshing = undefined
      }
    })()
    return refreshing
  }
  const timer = setInterval(() => void refresh(), LOCK_TTL_MS / 3)
  // The run's end, not this timer, decides when the process exits.
  timer.unref()
  // A reconnection may be to a restarted server, which lost the key: look at once.
  client.on('ready', () => void refresh())
  let ended: Promise<void> | undefined
  return {
    async lost() {
      if (lostWhy === undefined && !released) await refresh()
      return lostWhy
    },
    release() {
      released = true
      clearInterval(timer)
      ended ??= (async () => {
        try {
          await client.eval(RELEASE, 1, key, token)
        } catch {
          // Gone with the server or the connection: it expires.
        } finally {
          client.disconnect()
        }
      })()
      return ended
    },
  }
}
