import { createHook } from 'node:async_hooks'
import { BatchSQLError } from '@batchsql/core'
import { describe, expect, it } from 'vitest'
import { createRedisBatchSQL } from '../src/index.js'

/** What `make()` throws, synchronously: the test fails if it returns. */
function thrown(make: () => unknown): BatchSQLError {
  try {
    make()
  } catch (err) {
    expect(err).toBeInstanceOf(BatchSQLError)
    return err as BatchSQLError
  }
  throw new Error('the factory accepted the target')
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('createRedisBatchSQL target checks', () => {
  it('options that are no object (null, a string, an AbortSignal): BATCHSQL_INVALID_CONFIG, not a TypeError', () => {
    // null was "Cannot destructure property ... as it is null"; nothing is opened before the check.
    for (const config of [null, 'x', 5, AbortSignal.abort()])
      expect(
        thrown(() => createRedisBatchSQL('redis://db.example:6379', config as never)).message,
      ).toMatch(/^createRedisBatchSQL\(\) options must be an object/)
  })

  it('neither a client nor a string: BATCHSQL_INVALID_CONFIG, not a TypeError', () => {
    // {} was "connection.getMaxListeners is not a function", undefined a TypeError on isCluster.
    for (const target of [{}, undefined, null, 42, new Map(), { host: '127.0.0.1' }])
      expect(thrown(() => createRedisBatchSQL(target as never)).code).toBe(
        'BATCHSQL_INVALID_CONFIG',
      )
  })

  it('a URL of another scheme, or host:port without one, is refused at the call, its password not in the message', () => {
    // ioredis took any of them as a Redis server on that host (port 6379 by default).
    for (const target of [
      'http://app:s3cret@db.example:6379',
      'postgres://app:s3cret@db.example/app',
      'db.example:6379',
      ':s3cret@db.example:6379',
    ]) {
      const err = thrown(() => createRedisBatchSQL(target))
      expect(err.code).toBe('BATCHSQL_INVALID_CONFIG')
      expect(err.message).toMatch(/redis:\/\/ or rediss:\/\//)
      expect(err.message).not.toMatch(/s3cret|db\.example/)
    }
    expect(thrown(() => createRedisBatchSQL('http://db.example')).message).toMatch(
      /not a http:\/\/ URL/,
    )
  })

  it('redis://, rediss:// and a Unix socket path are accepted', async () => {
    for (const target of ['redis://127.0.0.1:1', 'REDISS://127.0.0.1:1', '/nonexistent/redis.sock'])
      await createRedisBatchSQL(target).close()
  })
})

describe('a client BatchSQL created, its server unreachable', () => {
  it('close() leaves no timer holding the process (ioredis armed a 2 s one between reconnections)', async () => {
    const b = createRedisBatchSQL('redis://127.0.0.1:1')
    // Refused at once, then waiting to reconnect (ioredis retries after 50 ms, then later).
    await sleep(20)
    // Every timer ioredis creates while closing, until it fires or is cleared (vitest's own
    // come and go meanwhile).
    const pending = new Map<number, NodeJS.Timeout>()
    const hook = createHook({
      init(id, type, _trigger, resource) {
        if (type === 'Timeout' && new Error().stack?.includes('/ioredis/'))
          pending.set(id, resource as NodeJS.Timeout)
      },
      destroy(id) {
        pending.delete(id)
      },
    }).enable()
    try {
      await b.close()
      // Waited out with immediates, not a timer of ours.
      const until = Date.now() + 100
      while (Date.now() < until) await new Promise((r) => setImmediate(r))
    } finally {
      hook.disable()
    }
    expect([...pending.values()].filter((t) => t.hasRef()).length).toBe(0)
  })
})
