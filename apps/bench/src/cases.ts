import type { Contender } from './contender.js'
import { mysqlBare, mysqlBatchSQL, mysqlKnex } from './mysql.js'
import {
  postgresBare,
  postgresBatchSQL,
  postgresCopy,
  postgresKnex,
  postgresPgp,
} from './postgres.js'
import { redisBare, redisBatchSQL } from './redis.js'
import { sqliteBare, sqliteBatchSQL, sqliteHandWritten, sqliteKnex } from './sqlite.js'
import type { WorkloadName } from './workloads.js'

export type Backend = 'sqlite' | 'postgres' | 'mariadb' | 'redis'

export interface ContenderSpec {
  readonly backend: Backend
  readonly name: string
  /** The bare-driver INSERT figure every ratio is taken against. */
  readonly baseline?: boolean
  readonly make: () => Contender
  readonly workloads?: readonly WorkloadName[]
}

/** Every contender of the table. */
export const CONTENDERS: readonly ContenderSpec[] = [
  {
    backend: 'sqlite',
    name: 'bare better-sqlite3 (multi-row INSERT, 1 txn)',
    baseline: true,
    make: sqliteBare,
  },
  {
    backend: 'sqlite',
    name: 'hand-written batching (rows in arrival order, 1 commit per 500)',
    make: sqliteHandWritten,
  },
  { backend: 'sqlite', name: 'BatchSQL (@batchsql/sqlite)', make: () => sqliteBatchSQL() },
  {
    backend: 'sqlite',
    name: 'BatchSQL submitMany() of 500 rows',
    make: () => sqliteBatchSQL('many'),
  },
  {
    backend: 'sqlite',
    name: 'knex batchInsert (upsert: insert().onConflict().merge())',
    make: sqliteKnex,
  },
  {
    backend: 'postgres',
    name: 'bare pg (multi-row INSERT, 4 in flight)',
    baseline: true,
    make: postgresBare,
  },
  {
    backend: 'postgres',
    name: 'bare pg COPY (pg-copy-streams)',
    make: postgresCopy,
    workloads: ['narrow', 'wide'],
  },
  {
    backend: 'postgres',
    name: 'BatchSQL (@batchsql/postgres, INSERT)',
    make: () => postgresBatchSQL('never'),
  },
  {
    backend: 'postgres',
    name: 'BatchSQL (INSERT) submitMany() of 500 rows',
    make: () => postgresBatchSQL('never', 'many'),
  },
  {
    backend: 'postgres',
    name: 'BatchSQL (@batchsql/postgres, COPY, flushSize 5000)',
    make: () => postgresBatchSQL('always'),
  },
  {
    backend: 'postgres',
    name: 'knex batchInsert (upsert: insert().onConflict().merge())',
    make: postgresKnex,
  },
  { backend: 'postgres', name: 'pg-promise helpers.insert', make: postgresPgp },
  {
    backend: 'mariadb',
    name: 'bare mysql2 (multi-row INSERT, 4 in flight)',
    baseline: true,
    make: mysqlBare,
  },
  { backend: 'mariadb', name: 'BatchSQL (@batchsql/mysql)', make: () => mysqlBatchSQL() },
  {
    backend: 'mariadb',
    name: 'BatchSQL submitMany() of 500 rows',
    make: () => mysqlBatchSQL('many'),
  },
  {
    backend: 'mariadb',
    name: 'knex batchInsert (upsert: insert().onConflict().merge())',
    make: mysqlKnex,
  },
  {
    backend: 'redis',
    name: 'bare ioredis (pipelines of 500, 4 in flight)',
    baseline: true,
    make: redisBare,
  },
  { backend: 'redis', name: 'BatchSQL (@batchsql/redis)', make: () => redisBatchSQL() },
  {
    backend: 'redis',
    name: 'BatchSQL submitMany() of 500 commands',
    make: () => redisBatchSQL('many'),
  },
  // Appended, not next to the other SQLite rows, so that the indexes above (quoted in
  // docs/performance.md) stay valid; the table groups rows by backend.
  {
    backend: 'sqlite',
    name: 'BatchSQL flushSize 5000 (one commit per 5,000 rows, statements of 500)',
    make: () => sqliteBatchSQL('submit', 5000),
  },
]
