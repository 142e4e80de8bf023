// Live heap while BatchSQL writes N `SET` (one `await submit()` each): a full GC is forced
// every 100 ms and the largest heap left after it is printed. Flat as N grows = nothing kept
// per command; it should follow bufferSize instead.
// Run: pnpm --filter @batchsql/redis build && node --expose-gc packages/redis/bench/live-heap.mjs
// Env: REDIS_URL, BENCH_COMMANDS (default 1000000), BENCH_BUFFER (bufferSize, default 10000).
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { createRedisBatchSQL, redisSchemas } from '../dist/index.js'
import { unlinkPrefix } from './unlink-prefix.mjs'

if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc')
const N = Number(process.env.BENCH_COMMANDS ?? 1_000_000)
const bufferSize = Number(process.env.BENCH_BUFFER ?? 10_000)
const prefix = `bsqlheap:${randomBytes(4).toString('hex')}:`
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379')
const b = createRedisBatchSQL(redis, { flushSize: 500, concurrency: 4, bufferSize })
const set = redisSchemas.set({ prefix })
let max = 0
const sampler = setInterval(() => {
  globalThis.gc()
  max = Math.max(max, process.memoryUsage().heapUsed)
}, 100)
try {
  for (let i = 0; i < N; i++) await b.submit(set, { key: String(i), value: `name-${i}` })
  const res = await b.close()
  if (res.committed !== N) throw new Error(`committed ${res.committed} of ${N}`)
  console.log(
    `${N} SET, bufferSize ${bufferSize}: largest live heap after a full GC ${(max / 2 ** 20).toFixed(1)} MiB`,
  )
} finally {
  clearInterval(sampler)
  await unlinkPrefix(redis, prefix)
  await redis.quit()
}
