import { ValidationError } from '@batchsql/core'
import type { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRedisBatchSQL, type KeyRow, redisSchemas, SUPPORTED_COMMANDS } from '../src/index.js'
import { connect, dropPrefix, uniquePrefix } from './helpers.js'

let redis: Redis
const prefix = uniquePrefix('commands')

beforeAll(() => {
  redis = connect()
})
afterAll(async () => {
  await dropPrefix(redis, prefix)
  await redis.quit()
})

describe('typed schemas against a real Redis', () => {
  it('writes every typed command form', async () => {
    const set = redisSchemas.set({ prefix })
    const hset = redisSchemas.hset({ prefix })
    const zadd = redisSchemas.zadd({ prefix })
    const lpush = redisSchemas.push({ prefix })
    const rpush = redisSchemas.push({ prefix, side: 'right' })
    const incr = redisSchemas.incr({ prefix })
    const del = redisSchemas.del({ prefix })
    const b = createRedisBatchSQL(redis)
    await b.submit(set, { key: 's1', value: 'v1' })
    await b.submit(set, { key: 'gone', value: 'x' })
    await b.submit(hset, { key: 'h', field: 'a', value: 1 })
    await b.submit(hset, { key: 'h', field: 'b', value: 'two' })
    await b.submit(zadd, { key: 'z', score: 2.5, member: 'm1' })
    await b.submit(zadd, { key: 'z', score: 1, member: 'm2' })
    for (const v of ['a', 'b', 'c']) {
      await b.submit(lpush, { key: 'l', value: v })
      await b.submit(rpush, { key: 'r', value: v })
    }
    await b.submit(incr, { key: 'n', by: 5 })
    await b.submit(incr, { key: 'n', by: -2n })
    await b.submitAndWait(del, { key: 'gone' })
    const res = await b.close()
    expect(res.failed).toBe(0)
    expect(await redis.get(`${prefix}s1`)).toBe('v1')
    expect(await redis.exists(`${prefix}gone`)).toBe(0)
    expect(await redis.hgetall(`${prefix}h`)).toEqual({ a: '1', b: 'two' })
    expect(await redis.zrange(`${prefix}z`, '0', '-1', 'WITHSCORES')).toEqual([
      'm2',
      '1',
      'm1',
      '2.5',
    ])
    expect(await redis.lrange(`${prefix}l`, 0, -1)).toEqual(['c', 'b', 'a'])
    expect(await redis.lrange(`${prefix}r`, 0, -1)).toEqual(['a', 'b', 'c'])
    expect(await redis.get(`${prefix}n`)).toBe('3')
  })

  it('sets TTLs in the unit given', async () => {
    const sec = redisSchemas.set({ prefix, name: 'ttl_s', ttl: { seconds: 100 } })
    const ms = redisSchemas.set({ prefix, name: 'ttl_ms', ttl: { milliseconds: 50_000 } })
    const plain = redisSchemas.set({ prefix, name: 'no_ttl' })
    const exp = redisSchemas.expire({ prefix, unit: 'seconds' })
    const pexp = redisSchemas.expire({ prefix, unit: 'milliseconds' })
    const b = createRedisBatchSQL(redis)
    await b.submit(sec, { key: 't_sec', value: 'x' })
    await b.submit(ms, { key: 't_ms', value: 'x' })
    await b.submit(plain, { key: 't_none', value: 'x' })
    await b.submit(plain, { key: 't_exp', value: 'x' })
    await b.submit(plain, { key: 't_pexp', value: 'x' })
    await b.close()
    const b2 = createRedisBatchSQL(redis)
    await b2.submit(exp, { key: 't_exp', ttl: 200 })
    await b2.submit(pexp, { key: 't_pexp', ttl: 30_000 })
    expect((await b2.close()).failed).toBe(0)
    const ttlSec = await redis.ttl(`${prefix}t_sec`)
    expect(ttlSec).toBeGreaterThan(90)
    expect(ttlSec).toBeLessThanOrEqual(100)
    const pttl = await redis.pttl(`${prefix}t_ms`)
    expect(pttl).toBeGreaterThan(40_000)
    expect(pttl).toBeLessThanOrEqual(50_000)
    expect(await redis.ttl(`${prefix}t_none`)).toBe(-1)
    const e = await redis.ttl(`${prefix}t_exp`)
    expect(e).toBeGreaterThan(190)
    expect(e).toBeLessThanOrEqual(200)
    const pe = await redis.pttl(`${prefix}t_pexp`)
    expect(pe).toBeGreaterThan(20_000)
    expect(pe).toBeLessThanOrEqual(30_000)
  })

  it('refuses TTLs without a valid explicit unit', () => {
    expect(() => redisSchemas.set({ ttl: { seconds: 0 } })).toThrow(ValidationError)
    expect(() => redisSchemas.set({ ttl: { milliseconds: 1.5 } })).toThrow(ValidationError)
    expect(() => redisSchemas.expire({} as never)).toThrow(ValidationError)
    // A bare number, or both units at once (which one would win?): typed errors too.
    const invalid = expect.objectContaining({ code: 'BATCHSQL_INVALID_SCHEMA' })
    for (const ttl of [3600, null, '3600', { seconds: 5, milliseconds: 100 }, { sec: 5 }])
      expect(() => redisSchemas.set({ ttl: ttl as never }), JSON.stringify(ttl)).toThrow(invalid)
  })

  it('refuses a misspelt or invalid factory option instead of ignoring it (keys or list order would differ)', () => {
    const invalid = expect.objectContaining({ code: 'BATCHSQL_INVALID_SCHEMA' })
    const cases: [string, () => unknown][] = [
      ['set prefx', () => redisSchemas.set({ prefx: 'a:' } as never)],
      ['hset prefix number', () => redisSchemas.hset({ prefix: 1 } as never)],
      ['zadd name empty', () => redisSchemas.zadd({ name: '' })],
      ['push side RIGHT', () => redisSchemas.push({ side: 'RIGHT' } as never)],
      ['incr ttl', () => redisSchemas.incr({ ttl: { seconds: 1 } } as never)],
      ['expire side', () => redisSchemas.expire({ unit: 'seconds', side: 'left' } as never)],
      ['del null', () => redisSchemas.del(null as never)],
      ['command column', () => redisSchemas.command({ column: ['cmd', 'key'] } as never)],
    ]
    for (const [label, make] of cases) expect(make, label).toThrow(invalid)
    expect(() => redisSchemas.push({ side: 'right', prefix: 'p:', name: 'q' })).not.toThrow()
  })

  it('writes binary values and keys byte for byte', async () => {
    const set = redisSchemas.set({ prefix })
    const b = createRedisBatchSQL(redis)
    const bytes = new Uint8Array([0, 255, 10, 13, 128])
    await b.submit(set, { key: new Uint8Array([0xc3, 0x28]), value: bytes })
    await b.close()
    const key = Buffer.concat([Buffer.from(prefix), Buffer.from([0xc3, 0x28])])
    expect([...((await redis.getBuffer(key)) ?? [])]).toEqual([...bytes])
  })
})

describe('generic command form', () => {
  const generic = () =>
    redisSchemas.command({ prefix, columns: ['cmd', 'key', 'arg1', 'arg2'] as const })

  it('an argument column may be named __proto__ (a column of the schema, read from the row)', async () => {
    const s = redisSchemas.command({ prefix, columns: ['cmd', 'key', '__proto__'] as const })
    expect(s.columns).toEqual(['cmd', 'key', '__proto__'])
    const b = createRedisBatchSQL(redis)
    await b.submitAndWait(s, JSON.parse('{"cmd": "SET", "key": "g:proto", "__proto__": "v"}'))
    await b.close()
    expect(await redis.get(`${prefix}g:proto`)).toBe('v')
  })

  it('runs every supported command form as given', async () => {
    const s = generic()
    const b = createRedisBatchSQL(redis)
    const rows: Record<string, unknown>[] = [
      { cmd: 'SET', key: 'g:set', arg1: 'v' },
      { cmd: 'setex', key: 'g:setex', arg1: 100, arg2: 'v' },
      { cmd: 'PSETEX', key: 'g:psetex', arg1: 100_000, arg2: 'v' },
      { cmd: 'HSET', key: 'g:h', arg1: 'f', arg2: 'v' },
      { cmd: 'HSET', key: 'g:h', arg1: 'f2', arg2: 'v2' },
      { cmd: 'HDEL', key: 'g:h', arg1: 'f2' },
      { cmd: 'ZADD', key: 'g:z', arg1: 3, arg2: 'm' },
      { cmd: 'ZADD', key: 'g:z', arg1: 4, arg2: 'm2' },
      { cmd: 'ZREM', key: 'g:z', arg1: 'm2' },
      { cmd: 'ZINCRBY', key: 'g:z', arg1: 2, arg2: 'm' },
      { cmd: 'SADD', key: 'g:s', arg1: 'a' },
      { cmd: 'SADD', key: 'g:s', arg1: 'b' },
      { cmd: 'SREM', key: 'g:s', arg1: 'b' },
      { cmd: 'PFADD', key: 'g:hll', arg1: 'x' },
      // A key alone is valid PFADD (the empty HyperLogLog); it was refused at submit().
      { cmd: 'PFADD', key: 'g:hll0' },
      { cmd: 'LPUSH', key: 'g:l', arg1: 'x' },
      { cmd: 'RPUSH', key: 'g:l', arg1: 'y' },
      { cmd: 'INCR', key: 'g:n' },
      { cmd: 'INCRBY', key: 'g:n', arg1: 10 },
      { cmd: 'DECR', key: 'g:n' },
      { cmd: 'DECRBY', key: 'g:n', arg1: 2 },
      { cmd: 'INCRBYFLOAT', key: 'g:f', arg1: 1.5 },
      { cmd: 'HINCRBY', key: 'g:hi', arg1: 'c', arg2: 3 },
      { cmd: 'HINCRBYFLOAT', key: 'g:hi', arg1: 'd', arg2: 0.5 },
      { cmd: 'APPEND', key: 'g:app', arg1: 'ab' },
      { cmd: 'APPEND', key: 'g:app', arg1: 'cd' },
      { cmd: 'XADD', key: 'g:x', arg1: '*', arg2: 'f' },
      { cmd: 'SET', key: 'g:del', arg1: 'x' },
      { cmd: 'DEL', key: 'g:del' },
      { cmd: 'SET', key: 'g:unlink', arg1: 'x' },
      { cmd: 'UNLINK', key: 'g:unlink' },
      { cmd: 'SET', key: 'g:exp', arg1: 'x' },
      { cmd: 'EXPIRE', key: 'g:exp', arg1: 300 },
      { cmd: 'SET', key: 'g:pexp', arg1: 'x' },
      { cmd: 'PEXPIRE', key: 'g:pexp', arg1: 300_000 },
      { cmd: 'SETEX', key: 'g:persist', arg1: 100, arg2: 'x' },
      { cmd: 'PERSIST', key: 'g:persist' },
    ]
    // XADD needs field and value: give it its own schema with one more column.
    rows.splice(
      rows.findIndex((r) => r.cmd === 'XADD'),
      1,
    )
    const x = redisSchemas.command({ prefix, name: 'x', columns: ['cmd', 'key', 'id', 'f', 'v'] })
    for (const r of rows) await b.submit(s, r as never)
    await b.submit(x, { cmd: 'XADD', key: 'g:x', id: '*', f: 'field', v: 'value' })
    const res = await b.close()
    expect(res.failed).toBe(0)
    const covered = new Set([...rows.map((r) => String(r.cmd).toUpperCase()), 'XADD'])
    expect([...SUPPORTED_COMMANDS].filter((c) => !covered.has(c))).toEqual([])
    const k = (s: string) => `${prefix}${s}`
    expect(await redis.get(k('g:set'))).toBe('v')
    expect(await redis.ttl(k('g:setex'))).toBeGreaterThan(90)
    expect(await redis.pttl(k('g:psetex'))).toBeGreaterThan(90_000)
    expect(await redis.hgetall(k('g:h'))).toEqual({ f: 'v' })
    expect(await redis.zrange(k('g:z'), '0', '-1', 'WITHSCORES')).toEqual(['m', '5'])
    expect(await redis.smembers(k('g:s'))).toEqual(['a'])
    expect(await redis.pfcount(k('g:hll'))).toBe(1)
    expect([await redis.exists(k('g:hll0')), await redis.pfcount(k('g:hll0'))]).toEqual([1, 0])
    expect(await redis.lrange(k('g:l'), 0, -1)).toEqual(['x', 'y'])
    expect(await redis.get(k('g:n'))).toBe('8')
    expect(await redis.get(k('g:f'))).toBe('1.5')
    expect(await redis.hgetall(k('g:hi'))).toEqual({ c: '3', d: '0.5' })
    expect(await redis.get(k('g:app'))).toBe('abcd')
    expect(await redis.xlen(k('g:x'))).toBe(1)
    expect(await redis.exists(k('g:del'), k('g:unlink'))).toBe(0)
    expect(await redis.ttl(k('g:exp'))).toBeGreaterThan(290)
    expect(await redis.pttl(k('g:pexp'))).toBeGreaterThan(290_000)
    expect(await redis.ttl(k('g:persist'))).toBe(-1)
  })

  it('ZADD takes its flags before the first score, as Redis does; INCR adds to the score', async () => {
    const s = redisSchemas.command({
      prefix,
      columns: ['cmd', 'key', 'a1', 'a2', 'a3', 'a4'] as const,
    })
    const b = createRedisBatchSQL(redis)
    await b.submit(s, { cmd: 'ZADD', key: 'zf', a1: 1, a2: 'm' })
    await b.submit(s, { cmd: 'ZADD', key: 'zf', a1: 'NX', a2: 9, a3: 'm' }) // m exists: unchanged
    await b.submit(s, { cmd: 'zadd', key: 'zf', a1: 'xx', a2: 'CH', a3: 2, a4: 'm' })
    await b.submit(s, { cmd: 'ZADD', key: 'zf', a1: 'GT', a2: 1, a3: 'm' }) // lower: unchanged
    await b.submit(s, { cmd: 'ZADD', key: 'zf', a1: 'INCR', a2: 5, a3: 'm' })
    await b.submit(s, { cmd: 'ZADD', key: 'zf', a1: 'XX', a2: 'INCR', a3: 1, a4: 'm' })
    await b.submit(s, { cmd: 'ZADD', key: 'zf', a1: 'NX', a2: 3, a3: 'n' })
    const res = await b.close()
    expect(res.failed).toBe(0)
    expect(await redis.zrange(`${prefix}zf`, '0', '-1', 'WITHSCORES')).toEqual(['n', '3', 'm', '8'])
    const err = await createRedisBatchSQL(redis)
      .submit(s, { cmd: 'ZADD', key: 'zf', a1: 'NX', a2: 'CH', a3: 1 })
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ValidationError)
    expect((err as Error).message).toContain('got 2 argument(s) besides 2 flag(s)')
  })

  it('rejects unsupported commands, wrong arity, unset and null arguments at submit', async () => {
    const s = generic()
    const b = createRedisBatchSQL(redis)
    const bad: [Record<string, unknown>, string][] = [
      [{ cmd: 'FLUSHALL', key: 'x' }, 'unsupported'],
      [{ cmd: 'SETEX', key: 'x', arg1: 10 }, 'argument'],
      [{ cmd: 'SET', key: 'x' }, 'argument'],
      [{ cmd: 'INCR', key: 'x', arg1: 1 }, 'argument'],
      [{ cmd: 'SETEX', key: 'x', arg2: 'v' }, 'unset'],
      [{ cmd: 'SET', key: 'x', arg1: null }, 'null'],
      [{ key: 'x', arg1: 'v' }, 'command name'],
      [{ cmd: 'HSET', key: 'x', arg1: 'f' }, 'argument'],
      [{ cmd: 'XADD', key: 'x', arg1: '*', arg2: 'f' }, 'argument'],
    ]
    for (const [row, msg] of bad) {
      const err = await b.submit(s, row as never).catch((e: unknown) => e)
      expect(err, JSON.stringify(row)).toBeInstanceOf(ValidationError)
      expect((err as Error).message).toContain(msg)
    }
    // A wrong argument count is the row's fault, not the schema's.
    const few = await b.submit(s, { cmd: 'SET', key: 'x' } as never).catch((e: unknown) => e)
    expect(few).toMatchObject({ code: 'BATCHSQL_MISSING_VALUE' })
    const many = await b
      .submit(s, { cmd: 'INCR', key: 'x', arg1: 1 } as never)
      .catch((e: unknown) => e)
    expect(many).toMatchObject({ code: 'BATCHSQL_TYPE_MISMATCH' })
    // A typed caller gets these as compile errors; plain JavaScript at submit().
    const typed = redisSchemas.set({ prefix })
    // The row type's key part, importable from the package root (it names every typed form).
    const keyOnly: KeyRow = { key: 'x' }
    // @ts-expect-error `value` is required
    await expect(b.submit(typed, keyOnly)).rejects.toThrow('unset')
    // @ts-expect-error `value` is required
    await expect(b.submit(typed, { key: 'x' })).rejects.toThrow('unset')
    // The same code as the generic form's and core's for an unset value.
    // @ts-expect-error `value` is required
    await expect(b.submit(typed, { key: 'x' })).rejects.toMatchObject({
      code: 'BATCHSQL_MISSING_VALUE',
    })
    await expect(b.submit(s, { cmd: 'SETEX', key: 'x', arg2: 'v' } as never)).rejects.toMatchObject(
      { code: 'BATCHSQL_MISSING_VALUE' },
    )
    // @ts-expect-error `value` may not be null
    await expect(b.submit(typed, { key: 'x', value: null })).rejects.toThrow('null')
    const res = await b.close()
    expect(res.accepted).toBe(0)
    expect(await redis.exists(`${prefix}x`)).toBe(0)
  })

  it('never puts row values into error messages', async () => {
    const b = createRedisBatchSQL(redis)
    const err = await b
      .submit(generic(), { cmd: 'SET', key: 'secret-key-42', arg2: 'secret-value' })
      .catch((e: unknown) => e as Error)
    expect(err).toBeInstanceOf(ValidationError)
    expect((err as Error).message).not.toMatch(/secret/)
    await b.close()
  })

  it('runs a batch atomically with MULTI/EXEC when asked', async () => {
    const s = generic()
    const b = createRedisBatchSQL(redis, { atomic: true, flushSize: 100 })
    for (let i = 0; i < 50; i++) await b.submit(s, { cmd: 'RPUSH', key: 'atomic', arg1: i })
    expect((await b.close()).committed).toBe(50)
    const list = await redis.lrange(`${prefix}atomic`, 0, -1)
    expect(list).toEqual(Array.from({ length: 50 }, (_, i) => String(i)))
  })

  it('leaves a client it was given open, and quits one it created from a URL', async () => {
    const b = createRedisBatchSQL(redis)
    await b.close()
    expect(redis.status).toBe('ready')
    const own = createRedisBatchSQL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379')
    await own.submitAndWait(redisSchemas.set({ prefix }), { key: 'url', value: 'ok' })
    await own.close()
    expect(await redis.get(`${prefix}url`)).toBe('ok')
  })
})
