// Commands/s through BatchSQL vs a hand-written ioredis pipeline loop of the same size,
// same process, same server, alternating rounds; prints the median ratios. BatchSQL runs
// twice per round: one `await submit()` per command, and `submitMany()` of 1000 commands.
// Run: pnpm --filter @batchsql/redis build && pnpm --filter @batchsql/redis bench
// Env: REDIS_URL (default redis://127.0.0.1:6379), BENCH_COMMANDS (default 200000),
// BENCH_BATCH (default 1000), BENCH_ROUNDS (default 5).
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { createRedisBatchSQL, redisSchemas } from '../dist/index.js'

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const N = Number(process.env.BENCH_COMMANDS ?? 200_000)
const BATCH = Number(process.env.BENCH_BATCH ?? 1000)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5)
const prefix = `bsqlbench:${randomBytes(4).toString('hex')}:`
const redis = new Redis(url)

async function clean() {
  let cursor = '0'
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 5000)
    if (keys.length) await redis.unlink(...keys)
    cursor = next
  } while (cursor !== '0')
}

async function handWritten(round) {
  const t0 = performance.now()
  for (let i = 0; i < N; i += BATCH) {
    const p = redis.pipeline()
    for (let j = i; j < Math.min(N, i + BATCH); j++) p.set(`${prefix}h${round}:${j}`, j)
    const res = await p.exec()
    for (const [err] of res) if (err) throw err
  }
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
const ratios = { submit: [], many: [] }
try {
  await handWritten('warm')
  await viaBatchSQL('warm')
  await viaBatchSQL('warm', true)
  await clean()
  for (let r = 0; r < ROUNDS; r++) {
    const hand = await handWritten(r)
    await clean()
    const one = await viaBatchSQL(r)
    await clean()
    const many = await viaBatchSQL(r, true)
    await clean()
    ratios.submit.push(one / hand)
    ratios.many.push(many / hand)
    console.log(
      `round ${r + 1}: hand-written pipeline ${fmt(hand)} cmd/s, BatchSQL submit() ${fmt(one)} cmd/s (${(one / hand).toFixed(2)}x), submitMany() ${fmt(many)} cmd/s (${(many / hand).toFixed(2)}x)`,
    )
  }
  console.log(
    `median ratio: submit() ${median(ratios.submit).toFixed(2)}x, submitMany() ${median(ratios.many).toFixed(2)}x (${N} SET, batches of ${BATCH})`,
  )
} finally {
  await clean()
  await redis.quit()
}
