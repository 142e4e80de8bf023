import { createRedisBatchSQL, redisSchemas } from '@batchsql/redis'
import { Redis } from 'ioredis'
import { type AppRow, canonicalLine } from '../rows.js'
import type { Backend, PipelineOptions, Strategy } from './backend.js'
import { connectWithin, hostOf } from './connect-deadline.js'

/**
 * Rows become `HSET <table>:<id> row <canonical values>`: the hash field is overwritten
 * by a later write (replace semantics). Redis has no partial-row update of one value, so
 * the `update` scenario does not apply. A poison row's key is created beforehand as a
 * plain string, so its HSET fails with WRONGTYPE. A keyless table's rows become
 * `RPUSH <table>:<id> <canonical values>` instead: a command sent twice appends twice, as an
 * INSERT sent twice into a table without a unique key stores two rows.
 */
export async function openRedis(url: string, connectTimeoutMs: number): Promise<Backend> {
  // One try, bounded: a server that is down or never answers fails the database at once
  // (ioredis would otherwise reconnect for ever), and its error is not printed as unhandled.
  const reader = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 3,
    connectTimeout: connectTimeoutMs,
    retryStrategy: () => null,
  })
  // ioredis rejects a failed connect() with "Connection is closed." alone: keep the cause
  // (ECONNREFUSED, ENOTFOUND) its 'error' event carried, for the message.
  let lastError: Error | undefined
  reader.on('error', (e: Error) => {
    lastError = e
  })
  const connecting = (async () => {
    await reader.connect()
    // ioredis reports a failed SELECT (a database index the server does not have) only as an
    // 'error' event and stays on database 0: every row would go to the wrong database.
    const db = reader.options.db ?? 0
    if (db !== 0) await reader.select(db)
  })()
  try {
    // ioredis's connectTimeout ends at the TCP connection: its ready check (INFO) and the
    // SELECT would wait for ever on a server that accepts connections and never answers.
    await connectWithin(connectTimeoutMs, `Redis at ${hostOf(url)}`, connecting, () =>
      reader.disconnect(),
    )
  } catch (err) {
    reader.disconnect()
    if (lastError !== undefined && !(err as Error).message.includes('CONNECT_TIMEOUT'))
      throw new Error(`Redis at ${hostOf(url)}: ${lastError.message}`, { cause: err })
    throw err
  }
  // Connected: from now on a dropped connection is retried (the fault scenario drops them).
  reader.options.retryStrategy = (times) => Math.min(times * 50, 2000)
  const clients = new Set<Redis>()
  const schemas = new Map<string, ReturnType<typeof redisSchemas.hset | typeof redisSchemas.push>>()
  const keyless = new Set<string>()
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
    strategies: ['insert', 'replace'],
    async createTable(table, options) {
      if (options?.keyless) keyless.add(table)
      await unlinkAll(table)
    },
    dropTable: unlinkAll,
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
      let cursor = '0'
      do {
        const [next, keys] = await reader.scan(cursor, 'MATCH', `${table}:*`, 'COUNT', 1000)
        cursor = next
        if (keys.length === 0) continue
        const p = reader.pipeline()
        const list = keyless.has(table)
        for (const k of keys) {
          if (list) p.lrange(k, 0, -1)
          else p.hget(k, 'row')
        }
        const res = (await p.exec()) ?? []
        res.forEach(([err, value], i) => {
          const id = keys[i]!.slice(table.length + 1)
          // A poison key holds a string: HGET fails with WRONGTYPE, the row is not there.
          if (err !== null) return
          if (typeof value === 'string') onLine(`${id}|${value}`)
          // A list: one line per element, so a row appended twice is read twice.
          else if (Array.isArray(value)) for (const v of value) onLine(`${id}|${v}`)
        })
      } while (cursor !== '0')
    },
    poison: (row: AppRow) => row,
    async preparePoison(table, ids) {
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
