import { BatchSQLError } from '@batchsql/core'
import { describe, expect, it } from 'vitest'
import { createPostgresBatchSQL } from '../src/index.js'

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

describe('createPostgresBatchSQL target checks', () => {
  it('options that are no object (null, a string, an AbortSignal): BATCHSQL_INVALID_CONFIG, not a TypeError', () => {
    // null was "Cannot destructure property ... as it is null"; nothing is opened before the check.
    for (const config of [null, 'x', 5, AbortSignal.abort()])
      expect(
        thrown(() => createPostgresBatchSQL('postgres://app@db.example/app', config as never))
          .message,
      ).toMatch(/^createPostgresBatchSQL\(\) options must be an object/)
  })

  it('no target, null, a number or an empty PoolConfig: BATCHSQL_INVALID_CONFIG, not a TypeError or a default pool', () => {
    // undefined and null were a TypeError from reading their properties; {} (or a
    // connectionString from an unset variable) made a pool of libpq's defaults.
    for (const target of [undefined, null, 42, {}, { connectionString: undefined }])
      expect(thrown(() => createPostgresBatchSQL(target as never)).code).toBe(
        'BATCHSQL_INVALID_CONFIG',
      )
  })

  it('a connection string of another scheme is refused at the call, its password not in the message', () => {
    // pg read mysql://host/db as host:5432; every batch then failed on connecting, if the
    // host was not a PostgreSQL server too.
    for (const target of [
      'mysql://app:s3cret@db.example/app',
      'redis://:s3cret@db.example:6379',
      'http://app:s3cret@db.example/app',
      'app:s3cret@db.example:5432/app',
      { connectionString: 'mariadb://app:s3cret@db.example/app' },
      { connectionString: 42 as never },
    ]) {
      const err = thrown(() => createPostgresBatchSQL(target))
      expect(err.code).toBe('BATCHSQL_INVALID_CONFIG')
      expect(err.message).toMatch(/postgres:\/\/ or postgresql:\/\//)
      expect(err.message).not.toMatch(/s3cret|db\.example/)
    }
    expect(
      thrown(() => createPostgresBatchSQL('mysql://app:s3cret@db.example/app')).message,
    ).toMatch(/not a mysql:\/\/ URL/)
  })

  it('postgres://, postgresql://, socket: and a socket directory are accepted (nothing connects until a batch)', async () => {
    for (const target of [
      'postgres://app:s3cret@db.example/app',
      'POSTGRESQL://db.example/app',
      'socket:/var/run/postgresql?db=app',
      '/var/run/postgresql app',
      { connectionString: 'postgresql://db.example/app', max: 2 },
      { host: 'db.example', database: 'app' },
    ])
      await createPostgresBatchSQL(target).close()
  })
})
