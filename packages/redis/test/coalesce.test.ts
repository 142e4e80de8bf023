import { Request } from '@batchsql/core'
import type { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { planSends, sourcesOf } from '../src/coalesce-commands.js'
import { createRedisBatchSQL, redisSchemas } from '../src/index.js'
import { MAPPER, type RowToCommand } from '../src/to-command.js'
import { connect, script, uniquePrefix } from './helpers.js'

const generic = redisSchemas.command({ columns: ['cmd', 'key', 'a', 'b'] })
const toCommand = generic.adapterOptions[MAPPER] as RowToCommand
const plan = (rows: Record<string, unknown>[]) =>
  planSends(rows.map((r) => toCommand(Request.from(generic, r as never).values)))

describe('planSends (pure logic)', () => {
  it('keeps the last of SET-like commands on one key', () => {
    const p = plan([
      { cmd: 'SET', key: 'k', a: '1' },
      { cmd: 'SET', key: 'other', a: '1' },
      { cmd: 'SETEX', key: 'k', a: 10, b: '2' },
      { cmd: 'SET', key: 'k', a: '3' },
    ])
    expect(p.send).toEqual([3, 1])
    expect(sourcesOf(p, 0)).toEqual([0, 2, 3])
    expect(sourcesOf(p, 1)).toEqual([1])
    expect(p.dropped).toBe(2)
  })

  it('never folds a command the server could refuse on its arguments, or an EXPIRE that deletes', () => {
    // Folded, the bad one would fail the good ones of its run; EXPIRE 0 deletes the key, so a
    // later EXPIRE does not replace it. Each stays, in order (they also end the run).
    const p = plan([
      { cmd: 'SET', key: 'k', a: 'v1' },
      { cmd: 'SETEX', key: 'k', a: -5, b: 'v2' },
      { cmd: 'SET', key: 'e', a: 'x' },
      { cmd: 'EXPIRE', key: 'e', a: 0 },
      { cmd: 'EXPIRE', key: 'e', a: 100 },
      { cmd: 'ZADD', key: 'z', a: 1, b: 'm' },
      { cmd: 'ZADD', key: 'z', a: 'abc', b: 'm' },
      // Past what Redis takes: a TTL that overflows once in ms and added to now, a score that
      // overflows or underflows a double.
      { cmd: 'SETEX', key: 'k', a: '99999999999999999', b: 'v3' },
      { cmd: 'EXPIRE', key: 'e', a: '99999999999999999' },
      { cmd: 'ZADD', key: 'z', a: '1e400', b: 'm' },
      { cmd: 'ZADD', key: 'z', a: '1e-400', b: 'm' },
    ])
    expect(p.send).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    // Valid ones still fold: a positive TTL, a numeric score (as text too).
    const q = plan([
      { cmd: 'EXPIRE', key: 'e', a: 10 },
      { cmd: 'EXPIRE', key: 'e', a: '20' },
      { cmd: 'ZADD', key: 'z', a: '1.5', b: 'm' },
      { cmd: 'ZADD', key: 'z', a: '0e5', b: 'm' },
      { cmd: 'ZADD', key: 'z', a: '-inf', b: 'm' },
      { cmd: 'PEXPIRE', key: 'e', a: '99999999999999999' },
    ])
    expect(q.send).toEqual([5, 4])
  })

  it('never coalesces LPUSH or INCR, and keeps them in order', () => {
    const p = plan([
      { cmd: 'LPUSH', key: 'l', a: 'x' },
      { cmd: 'LPUSH', key: 'l', a: 'x' },
      { cmd: 'INCR', key: 'n' },
      { cmd: 'INCR', key: 'n' },
    ])
    expect(p.send).toEqual([0, 1, 2, 3])
    expect(p.dropped).toBe(0)
  })

  it('does not fold a SET across another command on the same key', () => {
    const p = plan([
      { cmd: 'SET', key: 'k', a: '1' },
      { cmd: 'EXPIRE', key: 'k', a: 10 },
      { cmd: 'SET', key: 'k', a: '2' },
      { cmd: 'SET', key: 'j', a: '1' },
      { cmd: 'APPEND', key: 'j', a: 'x' },
      { cmd: 'SET', key: 'j', a: '2' },
    ])
    expect(p.send).toEqual([0, 1, 2, 3, 4, 5])
  })

  it('coalesces HSET per field and ZADD per member', () => {
    const p = plan([
      { cmd: 'HSET', key: 'h', a: 'f1', b: '1' },
      { cmd: 'HSET', key: 'h', a: 'f2', b: '1' },
      { cmd: 'HSET', key: 'h', a: 'f1', b: '2' },
      { cmd: 'ZADD', key: 'z', a: 1, b: 'm' },
      { cmd: 'ZADD', key: 'z', a: 2, b: 'm' },
      { cmd: 'ZADD', key: 'z', a: 2, b: 'n' },
    ])
    expect(p.send).toEqual([2, 1, 4, 5])
    expect(p.dropped).toBe(2)
  })
})

describe('coalescing against a real Redis', () => {
  // A private server: its command statistics count what was really sent.
  const port = '6392'
  let redis: Redis
  const prefix = uniquePrefix('coalesce')
  beforeAll(async () => {
    await script('redis-single.sh', 'start', port)
    redis = connect(`redis://127.0.0.1:${port}`)
  })
  afterAll(async () => {
    redis.disconnect()
    await script('redis-single.sh', 'stop', port)
  })

  const calls = async (cmd: string) => {
    const m = new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(await redis.info('commandstats'))
    return Number(m?.[1] ?? 0)
  }

  it('sends the last SET per key once per batch, and every push', async () => {
    await redis.config('RESETSTAT')
    const set = redisSchemas.set({ prefix })
    const push = redisSchemas.push({ prefix, side: 'right' })
    const b = createRedisBatchSQL(redis, { flushSize: 1000, flushInterval: 50 })
    for (let i = 0; i < 300; i++) {
      await b.submit(set, { key: `k${i % 3}`, value: i })
      await b.submit(push, { key: 'list', value: i % 2 })
    }
    const flushes = b.stats().flushes + 1
    const res = await b.close()
    expect(res.committed).toBe(600)
    expect(await redis.mget(`${prefix}k0`, `${prefix}k1`, `${prefix}k2`)).toEqual([
      '297',
      '298',
      '299',
    ])
    const list = await redis.lrange(`${prefix}list`, 0, -1)
    expect(list).toEqual(Array.from({ length: 300 }, (_, i) => String(i % 2)))
    expect(await calls('rpush')).toBe(300)
    const sets = await calls('set')
    expect(sets).toBeLessThanOrEqual(3 * flushes)
    expect(sets).toBeLessThan(300)
  })

  it('leaves what sending one after the other leaves, and fails only the refused command', async () => {
    const g = redisSchemas.command({ prefix, columns: ['cmd', 'key', 'a', 'b'] })
    const b = createRedisBatchSQL(redis, { flushSize: 1000, flushInterval: 60_000 })
    const rows = [
      { cmd: 'SET', key: 'sess', a: 'x' },
      { cmd: 'EXPIRE', key: 'sess', a: 0 }, // deletes the key
      { cmd: 'EXPIRE', key: 'sess', a: 100 }, // finds no key
      { cmd: 'SET', key: 'v', a: 'v1' },
      { cmd: 'SETEX', key: 'v', a: -5, b: 'v2' }, // refused by the server
      { cmd: 'SET', key: 'w', a: 'w1' },
      { cmd: 'SETEX', key: 'w', a: '99999999999999999', b: 'w2' }, // refused: TTL overflows
      { cmd: 'ZADD', key: 'z', a: 1, b: 'm' },
      { cmd: 'ZADD', key: 'z', a: '1e400', b: 'm' }, // refused: not a valid float
    ]
    const acks = rows.map((r) =>
      b.submitAndWait(g, r as never).then(
        () => 'ok',
        () => 'failed',
      ),
    )
    await b.close()
    expect(await Promise.all(acks)).toEqual([
      'ok',
      'ok',
      'ok',
      'ok',
      'failed',
      'ok',
      'failed',
      'ok',
      'failed',
    ])
    expect(await redis.exists(`${prefix}sess`)).toBe(0)
    expect(await redis.get(`${prefix}v`)).toBe('v1')
    expect(await redis.get(`${prefix}w`)).toBe('w1')
    expect(await redis.zscore(`${prefix}z`, 'm')).toBe('1')
  })

  it('a number past 2^53 is the member coalescing compared: one batch leaves what one-by-one does', async () => {
    // ioredis 6 sent 2 ** 60 as 1152921504606846976 while coalescing compared String(2 ** 60):
    // two different members were merged, the first dropped yet reported written.
    const zadd = redisSchemas.zadd({ prefix })
    const g = redisSchemas.command({ prefix, columns: ['cmd', 'key', 'a', 'b'] })
    const rows: [typeof zadd | typeof g, Record<string, unknown>][] = [
      [zadd, { key: 'big:z', score: 1, member: 2 ** 60 }],
      [zadd, { key: 'big:z', score: 2, member: '1152921504606846976' }],
      [zadd, { key: 'big:z', score: 3, member: 1e21 }],
      [g, { cmd: 'SADD', key: 'big:s', a: 1e21 }],
      [g, { cmd: 'SADD', key: 'big:s', a: '1000000000000000000000' }],
      [g, { cmd: 'HSET', key: 'big:h', a: 2 ** 60, b: 'first' }],
      [g, { cmd: 'HSET', key: 'big:h', a: '1152921504606846976', b: 'second' }],
    ]
    const state = async () => [
      await redis.zrange(`${prefix}big:z`, '0', '-1', 'WITHSCORES'),
      (await redis.smembers(`${prefix}big:s`)).sort(),
      await redis.hgetall(`${prefix}big:h`),
    ]
    const run = async (flushSize: number) => {
      await redis.del(`${prefix}big:z`, `${prefix}big:s`, `${prefix}big:h`)
      const b = createRedisBatchSQL(redis, { flushSize, flushInterval: 60_000 })
      for (const [schema, row] of rows) await b.submit(schema as never, row as never)
      expect(await b.close()).toMatchObject({ committed: rows.length, failed: 0 })
      return state()
    }
    const oneByOne = await run(1)
    expect(oneByOne[1]).toHaveLength(2) // two members indeed
    expect(await run(100)).toEqual(oneByOne)
  })
})
