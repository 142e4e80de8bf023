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
