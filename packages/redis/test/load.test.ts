import type { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRedisBatchSQL, redisSchemas } from '../src/index.js'
import { connect, dropPrefix, uniquePrefix } from './helpers.js'

const PRODUCERS = 10
const PER_PRODUCER = 10_000

describe('10 producers x 10,000 commands', () => {
  let redis: Redis
  const prefix = uniquePrefix('load')
  beforeAll(() => {
    redis = connect()
  })
  afterAll(async () => {
    await dropPrefix(redis, prefix)
    await redis.quit()
  })

  it('leaves exactly the expected keyspace', async () => {
    const set = redisSchemas.set({ prefix })
    const hset = redisSchemas.hset({ prefix })
    const zadd = redisSchemas.zadd({ prefix })
    const push = redisSchemas.push({ prefix, side: 'right' })
    const incr = redisSchemas.incr({ prefix })
    const b = createRedisBatchSQL(redis, { flushSize: 1000, bufferSize: 20_000 })
    const producer = async (p: number) => {
      for (let i = 0; i < PER_PRODUCER; i++) {
        switch (i % 5) {
          case 0:
            await b.submit(set, { key: `s:${p}:${i % 200}`, value: `${p}-${i}` })
            break
          case 1:
            await b.submit(hset, { key: `h:${p}`, field: `f${i % 300}`, value: i })
            break
          case 2:
            await b.submit(zadd, { key: `z:${p}`, score: i, member: `m${i % 100}` })
            break
          case 3:
            await b.submit(push, { key: `l:${p}`, value: i })
            break
          default:
            await b.submit(incr, { key: 'counter', by: p + 1 })
        }
      }
    }
    await Promise.all(Array.from({ length: PRODUCERS }, (_, p) => producer(p)))
    const res = await b.close()
    expect(res.failed).toBe(0)
    expect(res.accepted).toBe(PRODUCERS * PER_PRODUCER)
    expect(res.committed).toBe(PRODUCERS * PER_PRODUCER)

    // Expected state, computed independently of the code under test.
    const expected = new Map<string, unknown>()
    let counter = 0
    for (let p = 0; p < PRODUCERS; p++) {
      const hash: Record<string, string> = {}
      const zset = new Map<string, number>()
      const list: string[] = []
      for (let i = 0; i < PER_PRODUCER; i++) {
        if (i % 5 === 0) expected.set(`s:${p}:${i % 200}`, `${p}-${i}`)
        else if (i % 5 === 1) hash[`f${i % 300}`] = String(i)
        else if (i % 5 === 2) zset.set(`m${i % 100}`, i)
        else if (i % 5 === 3) list.push(String(i))
        else counter += p + 1
      }
      expected.set(`h:${p}`, hash)
      expected.set(
        `z:${p}`,
        [...zset].sort((a, b) => a[1] - b[1]).flatMap(([m, s]) => [m, String(s)]),
      )
      expected.set(`l:${p}`, list)
    }
    expected.set('counter', String(counter))

    const keys: string[] = []
    let cursor = '0'
    do {
      const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
      keys.push(...batch)
      cursor = next
    } while (cursor !== '0')
    expect(keys.map((k) => k.slice(prefix.length)).sort()).toEqual([...expected.keys()].sort())

    const pipe = redis.pipeline()
    const order = [...expected.keys()]
    for (const k of order) {
      const key = prefix + k
      if (k.startsWith('s:') || k === 'counter') pipe.get(key)
      else if (k.startsWith('h:')) pipe.hgetall(key)
      else if (k.startsWith('z:')) pipe.zrange(key, '0', '-1', 'WITHSCORES')
      else pipe.lrange(key, 0, -1)
    }
    const actual = (await pipe.exec())!.map(([err, v]) => {
      expect(err).toBeNull()
      return v
    })
    order.forEach((k, i) => {
      expect(actual[i], k).toEqual(expected.get(k))
    })
  })
})
