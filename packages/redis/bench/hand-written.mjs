/**
 * The baseline every Redis bench measures against: `n` SETs (`key(j)` → `value(j)`) written as
 * hand-written ioredis pipelines of `batch` commands, `inFlight` pipelines at once.
 */
export async function handWrittenSets(redis, { n, batch, inFlight, key, value }) {
  let next = 0
  const worker = async () => {
    while (next < n) {
      const i = next
      next += batch
      const p = redis.pipeline()
      for (let j = i; j < Math.min(n, i + batch); j++) p.set(key(j), value(j))
      const res = await p.exec()
      for (const [err] of res) if (err) throw err
    }
  }
  await Promise.all(Array.from({ length: inFlight }, worker))
}
