import { createRedisBatchSQL, redisSchemas } from '@batchsql/redis'
import { Redis } from 'ioredis'
import type { Feed } from './batchsql.js'
import { BATCH, type Contender, IN_FLIGHT } from './contender.js'
import {
  chunks,
  inFlight,
  makeRow,
  produce,
  type Row,
  sharedLimit,
  uniqueName,
  type Workload,
} from './workloads.js'

const URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'

/** Redis has no columns: every workload is `SET prefix:id value`, wide rows joined into one value. */
function value(w: Workload, r: Row): string {
  return w.columns.length === 3
    ? String(r.name)
    : w.columns
        .slice(1)
        .map((c) => r[c])
        .join('|')
}

function onRedis(
  prefix: string,
  run: (
    redis: Redis,
    keyPrefix: string,
    w: Workload,
    rows: number,
    producers: number,
  ) => Promise<void>,
): Contender {
  const redis = new Redis(URL)
  const keyPrefix = `${uniqueName(prefix)}:`
  return {
    async setup() {},
    run: (w, rows, producers) => run(redis, keyPrefix, w, rows, producers),
    async count() {
      let n = 0
      for await (const keys of redis.scanStream({ match: `${keyPrefix}*`, count: 5000 }))
        n += (keys as string[]).length
      return n
    },
    async names(ids) {
      const found = new Map<number, string>()
      for (let i = 0; i < ids.length; i += 10_000) {
        const part = ids.slice(i, i + 10_000)
        const values = await redis.mget(part.map((id) => `${keyPrefix}${id}`))
        values.forEach((v, j) => {
          if (v !== null) found.set(part[j]!, v)
        })
      }
      return found
    },
    async teardown() {
      for await (const keys of redis.scanStream({ match: `${keyPrefix}*`, count: 5000 })) {
        if ((keys as string[]).length > 0) await redis.unlink(...(keys as string[]))
      }
      redis.disconnect()
    },
  }
}

/** The limit: pipelines of BATCH SETs, IN_FLIGHT pipelines at once. */
export function redisBare(): Contender {
  return onRedis('bench_rd_bare', async (redis, prefix, w, rows, producers) => {
    const perProducer = Math.max(1, Math.ceil(IN_FLIGHT / producers))
    // One connection runs pipelines in order: last write wins without more. No pool caps
    // the pipelines in flight, so IN_FLIGHT is shared by the producers here.
    const send = sharedLimit(IN_FLIGHT, (chunk: Row[]) => {
      const p = redis.pipeline()
      for (const r of chunk) p.set(`${prefix}${r.id}`, value(w, r))
      return p.exec()
    })
    await produce(rows, producers, (start, end) =>
      inFlight(chunks(w, start, end, BATCH), perProducer, send),
    )
  })
}

/** BatchSQL over the Redis adapter: producers `submit()` row by row, or `submitMany()`. */
export function redisBatchSQL(feed: Feed = 'submit'): Contender {
  return onRedis('bench_rd_bsql', async (redis, prefix, w, rows, producers) => {
    const bsql = createRedisBatchSQL(redis, { flushSize: BATCH, concurrency: IN_FLIGHT })
    const schema = redisSchemas.set({ prefix })
    const command = (r: Row) => ({ key: String(r.id), value: value(w, r) })
    await produce(rows, producers, async (start, end) => {
      if (feed === 'many') {
        for (const chunk of chunks(w, start, end, BATCH))
          await bsql.submitMany(schema, chunk.map(command))
      } else {
        for (let i = start; i < end; i++) await bsql.submit(schema, command(makeRow(w, i)))
      }
    })
    const result = await bsql.close()
    if (result.failed > 0) throw new Error(`${result.failed} rows failed`)
  })
}
