import { BatchSQLError } from '@batchsql/core'
import { describe, expect, it } from 'vitest'
import { createMysqlBatchSQL } from '../src/index.js'

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

describe('createMysqlBatchSQL target checks', () => {
  it('options that are no object (null, a string, an AbortSignal): BATCHSQL_INVALID_CONFIG, not a TypeError', () => {
    // null was "Cannot destructure property ... as it is null"; nothing is opened before the check.
    for (const config of [null, 'x', 5, AbortSignal.abort()])
      expect(
        thrown(() => createMysqlBatchSQL('mysql://app@db.example/app', config as never)).message,
      ).toMatch(/^createMysqlBatchSQL\(\) options must be an object/)
  })

  it('no target, null, a number or empty PoolOptions: BATCHSQL_INVALID_CONFIG, not a TypeError or a default pool', () => {
    // undefined and null were a TypeError from reading their properties; {} (or a uri from
    // an unset variable) made a pool of mysql2's defaults (localhost:3306, no user).
    for (const target of [undefined, null, 42, {}, { uri: undefined }])
      expect(thrown(() => createMysqlBatchSQL(target as never)).code).toBe(
        'BATCHSQL_INVALID_CONFIG',
      )
  })

  it('a URI of another scheme, or no URL at all, is refused at the call, its password not in the message', () => {
    // mysql2 ignores the scheme: postgres://host/db was host:3306. A string that is no URL
    // was mysql2's TypeError, the URI (password included) as its `input`.
    for (const target of [
      'postgres://app:s3cret@db.example/app',
      'redis://:s3cret@db.example:6379',
      'app:s3cret@db.example:3306/app',
      'mysql://app:s3cret@[db.example/app',
      { uri: 'postgresql://app:s3cret@db.example/app' },
      { uri: 42 as never },
    ]) {
      const err = thrown(() => createMysqlBatchSQL(target))
      expect(err.code).toBe('BATCHSQL_INVALID_CONFIG')
      expect(err.message).toMatch(/mysql:\/\//)
      expect(err.message).not.toMatch(/s3cret|db\.example/)
      expect(err.cause).toBeUndefined()
    }
    expect(
      thrown(() => createMysqlBatchSQL('postgres://app:s3cret@db.example/app')).message,
    ).toMatch(/not a postgres:\/\/ URL/)
  })

  it('mysql:// and mariadb:// URIs and PoolOptions with a host are accepted (nothing connects until a batch)', async () => {
    for (const target of [
      'mysql://app:s3cret@db.example/app',
      'MariaDB://db.example/app',
      { uri: 'mysql://db.example/app', connectionLimit: 2 },
      { host: 'db.example', database: 'app' },
    ])
      await createMysqlBatchSQL(target).close()
  })
})
