import { Request } from '@batchsql/core'
import type { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { planSends } from '../src/coalesce-commands.js'
import { createRedisBatchSQL, redisSchemas } from '../src/index.js'
import { MAPPER, type RowToCommand } from '../src/to-command.js'
import { connect, dropPrefix, uniquePrefix } from './helpers.js'

// A key (hash field, set member) is what Redis receives: its bytes. A string goes as UTF-8, so
// `Buffer.from('k')` and `'k'` are one key and must coalesce (and order) as one.

const generic = redisSchemas.command({ columns: ['cmd', 'key', 'a', 'b'] })
const toCommand = generic.adapterOptions[MAPPER] as RowToCommand
const plan = (rows: Record<string, unknown>[]) =>
  planSends(rows.map((r) => toCommand(Request.from(generic, r as never).values)))
const bytes = (s: string) => Buffer.from(s)
/**
 * The same, straight from the column-aligned values, without core's submit-time checks: core
 * may refuse a string with a lone surrogate at `submit()`, but the mapper and `planSends` are
 * also reached through `RedisProcessor` and must still tell keys apart by their bytes.
 */
const planRaw = (rows: unknown[][]) => planSends(rows.map((r) => toCommand(r as never)))

describe('key identity in planSends (pure logic)', () => {
  it('treats the bytes and text spellings of one key, field or member as one', () => {
    // SET bytes, SET text, SET bytes of one key: the last one stands for all three.
    expect(
      plan([
        { cmd: 'SET', key: bytes('k'), a: 'v1' },
        { cmd: 'SET', key: 'k', a: 'v2' },
        { cmd: 'SET', key: new Uint8Array(bytes('k')), a: 'v3' },
      ]).send,
    ).toEqual([2])
    // A DEL of the binary spelling ends the text key's run: nothing is reordered around it.
    expect(
      plan([
        { cmd: 'SET', key: 'k', a: 'first' },
        { cmd: 'DEL', key: bytes('k') },
        { cmd: 'SET', key: 'k', a: 'second' },
      ]).send,
    ).toEqual([0, 1, 2])
    // HSET of one field, ZADD of one member, each spelled both ways.
    expect(
      plan([
        { cmd: 'HSET', key: 'h', a: bytes('f'), b: '1' },
        { cmd: 'HSET', key: 'h', a: 'f', b: '2' },
        { cmd: 'HSET', key: bytes('h'), a: bytes('f'), b: '3' },
        { cmd: 'ZADD', key: 'z', a: 1, b: bytes('m') },
        { cmd: 'ZADD', key: 'z', a: 2, b: 'm' },
        { cmd: 'ZADD', key: 'z', a: 3, b: bytes('m') },
      ]).send,
    ).toEqual([2, 5])
    // Non-ASCII text: its UTF-8 bytes are the same key.
    expect(
      plan([
        { cmd: 'SET', key: 'clé😀', a: '1' },
        { cmd: 'SET', key: bytes('clé😀'), a: '2' },
      ]).send,
    ).toEqual([1])
  })

  it('treats two strings that go out as the same UTF-8 bytes as one key', () => {
    // A lone surrogate is sent as U+FFFD (EF BF BD): 'x\uD800' and 'x\uFFFD' are one key.
    expect(
      planRaw([
        ['SET', 'x\uD800', '1'],
        ['SET', 'x\uFFFD', '2'],
        ['SET', 'x\uD800', '3'],
      ]).send,
    ).toEqual([2])
  })

  it('never gives different bytes one identity, whatever a text key looks like', () => {
    const invalid = Buffer.from([0xc3, 0x28]) // not UTF-8
    const cases: [unknown, unknown][] = [
      // Text spelled like the old binary identity ("\0" + hex) of the bytes 'k'.
      [`\0${bytes('k').toString('hex')}`, bytes('k')],
      // Text whose characters are the bytes' latin1 reading (different UTF-8 bytes).
      ['\u00c3(', invalid],
      // Text starting with a lone surrogate, then the bytes' latin1 reading.
      ['\uDC00\u00c3(', invalid],
      ['\uD800\u00c3(', invalid],
      // Two byte strings that are not UTF-8.
      [Buffer.from([0xff]), Buffer.from([0xfe])],
      [Buffer.from([0xff]), Buffer.from([0xff, 0x00])],
      // Text '' and an empty byte string are the same (empty) key; this pair is not.
      ['', Buffer.from([0x00])],
    ]
    for (const [first, second] of cases) {
      const p = planRaw([
        ['SET', first, '1'],
        ['SET', second, '2'],
      ])
      expect(p.send, `${JSON.stringify(first)} vs ${JSON.stringify(second)}`).toEqual([0, 1])
    }
    // The same bytes that are not UTF-8, as Buffer and as Uint8Array: one key.
    expect(
      plan([
        { cmd: 'SET', key: invalid, a: '1' },
        { cmd: 'SET', key: new Uint8Array(invalid), a: '2' },
      ]).send,
    ).toEqual([1])
  })
})

describe('bytes and text spellings of one key against a real Redis', () => {
  let redis: Redis
  const prefix = uniquePrefix('keyid')
  beforeAll(() => {
    redis = connect()
  })
  afterAll(async () => {
    await dropPrefix(redis, prefix)
    await redis.quit()
  })

  it('leaves what sending the commands one after the other leaves', async () => {
    const set = redisSchemas.set({ prefix })
    const zadd = redisSchemas.zadd({ prefix })
    const raw = redisSchemas.command({ prefix, columns: ['cmd', 'key', 'a', 'b'] })
    // One batch per schema: coalescing works within a batch.
    const b = createRedisBatchSQL(redis, { flushSize: 1000, flushInterval: 60_000 })
    await b.submitMany(set, [
      { key: bytes('k1'), value: 'v1' },
      { key: 'k1', value: 'v2' },
      { key: bytes('k1'), value: 'v3' },
    ])
    await b.submitMany(zadd, [
      { key: 'z', score: 1, member: bytes('m') },
      { key: 'z', score: 2, member: 'm' },
      { key: 'z', score: 3, member: bytes('m') },
    ])
    await b.submitMany(raw, [
      { cmd: 'SET', key: 'k2', a: 'first' },
      { cmd: 'DEL', key: bytes('k2') },
      { cmd: 'SET', key: 'k2', a: 'second' },
      { cmd: 'HSET', key: 'h', a: bytes('f'), b: '1' },
      { cmd: 'HSET', key: 'h', a: 'f', b: '2' },
      { cmd: 'HSET', key: bytes('h'), a: bytes('f'), b: '3' },
    ])
    const res = await b.close()
    expect(res.failed).toBe(0)
    expect(await redis.get(`${prefix}k1`)).toBe('v3')
    expect(await redis.get(`${prefix}k2`)).toBe('second')
    expect(await redis.zscore(`${prefix}z`, 'm')).toBe('3')
    expect(await redis.hgetall(`${prefix}h`)).toEqual({ f: '3' })
  })

  it('keeps keys with different bytes apart', async () => {
    const set = redisSchemas.set({ prefix })
    const b = createRedisBatchSQL(redis, { flushSize: 1000, flushInterval: 60_000 })
    const invalid = Buffer.from([0xc3, 0x28]) // not UTF-8
    await b.submitMany(set, [
      { key: invalid, value: 'bytes1' },
      { key: '\u00c3(', value: 'text' }, // C3 83 28 on the wire
      { key: new Uint8Array(invalid), value: 'bytes2' },
    ])
    expect((await b.close()).failed).toBe(0)
    const p = Buffer.from(prefix)
    expect(await redis.get(Buffer.concat([p, invalid]))).toBe('bytes2')
    expect(await redis.get(`${prefix}\u00c3(`)).toBe('text')
  })
})

describe('commands on one key through different schemas keep submit order (real Redis)', () => {
  let redis: Redis
  const prefix = uniquePrefix('scopes')
  beforeAll(() => {
    redis = connect()
  })
  afterAll(async () => {
    await dropPrefix(redis, prefix)
    await redis.quit()
  })

  it('in one flush: SET, DEL, SET of a key through two schemas leaves the last SET; spellings and prefixes meet', async () => {
    const set = redisSchemas.set({ prefix })
    const del = redisSchemas.del({ prefix })
    const expire = redisSchemas.expire({ prefix, unit: 'seconds' })
    const nested = redisSchemas.set({ prefix: `${prefix}n:` })
    const raw = redisSchemas.command({ columns: ['cmd', 'key', 'a'] }) // no prefix
    const rawPrefixed = redisSchemas.command({ prefix, columns: ['cmd', 'key', 'a'] })
    const b = createRedisBatchSQL(redis, { flushSize: 1000, flushInterval: 60_000 })
    await b.submit(set, { key: 'k', value: 'v1' })
    await b.submit(del, { key: 'k' })
    await b.submit(set, { key: 'k', value: 'v2' })
    await b.submit(set, { key: 't', value: 'x' })
    await b.submit(expire, { key: 't', ttl: 100 })
    await b.submit(nested, { key: 'k', value: 'nested' }) // the key `${prefix}n:k`
    await b.submit(raw, { cmd: 'DEL', key: `${prefix}n:k` }) // the same key, spelled whole
    await b.submit(rawPrefixed, { cmd: 'SET', key: 7, a: 'number' })
    await b.submit(del, { key: bytes('7') }) // the same key as the number 7
    expect((await b.close()).failed).toBe(0)
    expect(await redis.get(`${prefix}k`)).toBe('v2')
    expect(await redis.ttl(`${prefix}t`)).toBeGreaterThan(90)
    expect(await redis.exists(`${prefix}n:k`, `${prefix}7`)).toBe(0)
  })

  it('across flushes and concurrent batches: SET and DEL schemas leave what one-by-one leaves', async () => {
    const set = redisSchemas.set({ prefix: `${prefix}c:` })
    const del = redisSchemas.del({ prefix: `${prefix}c:` })
    const b = createRedisBatchSQL(redis, {
      flushSize: 25,
      flushInterval: 60_000,
      concurrency: 4,
      maxInFlightFlushes: 8,
    })
    const expected = new Map<string, string | null>()
    let seed = 7
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31
      return seed / 2 ** 31
    }
    for (let i = 0; i < 3000; i++) {
      const key = `k${Math.floor(random() * 15)}`
      // Runs of one command, as a sync job emits them, so flushes mix both schemas.
      if (Math.floor(i / 7) % 3 === 2) {
        await b.submit(del, { key })
        expected.set(key, null)
      } else {
        await b.submit(set, { key, value: `v${i}` })
        expected.set(key, `v${i}`)
      }
    }
    expect((await b.close()).failed).toBe(0)
    const keys = [...expected.keys()]
    const got = await redis.mget(...keys.map((k) => `${prefix}c:${k}`))
    expect(Object.fromEntries(keys.map((k, i) => [k, got[i]]))).toEqual(
      Object.fromEntries(expected),
    )
  })
})
