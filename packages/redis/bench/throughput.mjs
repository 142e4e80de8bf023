// Commands/s through BatchSQL vs hand-written ioredis pipeline loops of the same size, same
// process, same server, alternating rounds; prints the median ratios. Two hand-written loops:
// one pipeline at a time (the loop most people write), and IN_FLIGHT pipelines at once,
// BatchSQL's default `concurrency` (the fair limit). BatchSQL runs twice per round: one
// `await submit()` per command, and `submitMany()` of BENCH_BATCH commands.
// Run: pnpm --filter @batchsql/redis build && pnpm --filter @batchsql/redis bench
// Env: REDIS_URL (default redis://127.0.0.1:6379), BENCH_COMMANDS (default 200000),
// BENCH_BATCH (default 1000), BENCH_ROUNDS (default 5).
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { createRedisBatchSQL, redisSchemas } from '../dist/index.js'
import { handWrittenSets } from './hand-written.mjs'
import { unlinkPrefix } from './unlink-prefix.mjs'

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const N = Number(process.env.BENCH_COMMANDS ?? 200_000)
const BATCH = Number(process.env.BENCH_BATCH ?? 1000)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5)
const IN_FLIGHT = 4 // BatchSQL's default executor concurrency
const prefix = `bsqlbench:${randomBytes(4).toString('hex')}:`
const redis = new Redis(url)

const clean = () => unlinkPrefix(redis, prefix)

async function handWritten(round, inFlight = 1) {
  const t0 = performance.now()
  await handWrittenSets(redis, {
    n: N,
    batch: BATCH,
    inFlight,
    key: (j) => `${prefix}h${round}:${j}`,
    value: (j) => j,
  })
  return N / ((performance.now() - t0) / 1000)
}

async function viaBatchSQL(round, many = false) {
  const set = redisSchemas.set({ prefix })
  const b = createRedisBatchSQL(redis, { flushSize: BATCH, bufferSize: BATCH * 10 })
  const t0 = performance.now()
  if (many) {
    for (let i = 0; i < N; i += BATCH) {
      const rows = []
      for (let j = i; j < Math.min(N, i + BATCH); j++)
        rows.push({ key: `m${round}:${j}`, value: j })
      await b.submitMany(set, rows)
    }
  } else {
    for (let i = 0; i < N; i++) await b.submit(set, { key: `b${round}:${i}`, value: i })
  }
  const res = await b.close()
  if (res.committed !== N) throw new Error(`committed ${res.committed} of ${N}`)
  return N / ((performance.now() - t0) / 1000)
}

const fmt = (x) => Math.round(x).toLocaleString('en-US')
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const ratios = { submit: [], many: [], submitC: [], manyC: [] }
try {
  await handWritten('warm')
  await handWritten('warmc', IN_FLIGHT)
  await viaBatchSQL('warm')
  await viaBatchSQL('warm', true)
  await clean()
  for (let r = 0; r < ROUNDS; r++) {
    const hand = await handWritten(r)
    await clean()
    const handC = await handWritten(`c${r}`, IN_FLIGHT)
    await clean()
    const one = await viaBatchSQL(r)
    await clean()
    const many = await viaBatchSQL(r, true)
    await clean()
    ratios.submit.push(one / hand)
    ratios.many.push(many / hand)
    ratios.submitC.push(one / handC)
    ratios.manyC.push(many / handC)
    console.log(
      `round ${r + 1}: hand-written ${fmt(hand)} cmd/s (1 pipeline at a time), ${fmt(handC)} (${IN_FLIGHT} in flight); BatchSQL submit() ${fmt(one)} (${(one / hand).toFixed(2)}x / ${(one / handC).toFixed(2)}x), submitMany() ${fmt(many)} (${(many / hand).toFixed(2)}x / ${(many / handC).toFixed(2)}x)`,
    )
  }
  const m = (k) => median(ratios[k]).toFixed(2)
  console.log(
    `median ratio vs 1 pipeline at a time: submit() ${m('submit')}x, submitMany() ${m('many')}x; vs ${IN_FLIGHT} in flight: submit() ${m('submitC')}x, submitMany() ${m('manyC')}x (${N} SET, batches of ${BATCH})`,
  )
} finally {
  await clean()
  await redis.quit()
}
