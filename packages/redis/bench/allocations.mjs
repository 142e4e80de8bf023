// Bytes allocated per command, hand-written pipelines (4 in flight) vs BatchSQL
// (`submitMany()`, concurrency 4), from V8's sampling heap profiler with collected objects
// kept in the profile: where the garbage comes from, by allocating function.
// Run: pnpm --filter @batchsql/redis build && node packages/redis/bench/allocations.mjs
// Env: REDIS_URL, BENCH_COMMANDS (default 300000), BENCH_TOP (functions shown, default 8).
import { randomBytes } from 'node:crypto'
import { Session } from 'node:inspector/promises'
import { Redis } from 'ioredis'
import { createRedisBatchSQL, redisSchemas } from '../dist/index.js'
import { handWrittenSets } from './hand-written.mjs'
import { unlinkPrefix } from './unlink-prefix.mjs'

const N = Number(process.env.BENCH_COMMANDS ?? 300_000)
const TOP = Number(process.env.BENCH_TOP ?? 8)
const BATCH = 500
const IN_FLIGHT = 4
const prefix = `bsqlalloc:${randomBytes(4).toString('hex')}:`
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379')
const session = new Session()
session.connect()

function handWritten() {
  return handWrittenSets(redis, {
    n: N,
    batch: BATCH,
    inFlight: IN_FLIGHT,
    key: (j) => `${prefix}${j}`,
    value: (j) => `name-${j}`,
  })
}

async function viaBatchSQL() {
  const b = createRedisBatchSQL(redis, { flushSize: BATCH, concurrency: IN_FLIGHT })
  const set = redisSchemas.set({ prefix })
  for (let i = 0; i < N; i += BATCH) {
    const rows = []
    for (let j = i; j < Math.min(N, i + BATCH); j++)
      rows.push({ key: String(j), value: `name-${j}` })
    await b.submitMany(set, rows)
  }
  await b.close()
}

/** Sampled bytes per allocating function (file:line), summed over the profile tree. */
function byFunction(profile) {
  const out = new Map()
  const walk = (node) => {
    const { functionName, url, lineNumber } = node.callFrame
    const where = `${functionName || '(anonymous)'} ${url.replace(/.*node_modules\//, '')}:${lineNumber}`
    out.set(where, (out.get(where) ?? 0) + node.selfSize)
    for (const child of node.children) walk(child)
  }
  walk(profile.head)
  return out
}

async function measure(name, run) {
  await run() // warm-up, not sampled
  await unlinkPrefix(redis, prefix)
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: 4096,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  })
  await run()
  const { profile } = await session.post('HeapProfiler.stopSampling')
  await unlinkPrefix(redis, prefix)
  const fns = [...byFunction(profile)].sort((a, b) => b[1] - a[1])
  const total = fns.reduce((s, [, bytes]) => s + bytes, 0)
  console.log(`${name}: ${Math.round(total / N)} bytes allocated per command`)
  for (const [where, bytes] of fns.slice(0, TOP))
    console.log(`  ${String(Math.round(bytes / N)).padStart(5)} B  ${where}`)
}

try {
  await measure('hand-written pipelines', handWritten)
  await measure('BatchSQL submitMany()', viaBatchSQL)
} finally {
  await unlinkPrefix(redis, prefix)
  await redis.quit()
}
