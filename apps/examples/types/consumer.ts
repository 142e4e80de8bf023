// Compiled, never run (`pnpm typecheck`): the packages' published types (dist/*.d.ts) as a
// consumer with the strictest common settings sees them (tsconfig.json: exactOptionalPropertyTypes,
// skipLibCheck off, so the .d.ts files themselves are checked too).
import { runConformanceSuite } from '@batchsql/conformance'
import {
  BatchFailedError,
  BatchSQLError,
  ClosedError,
  CloseFailedError,
  createBatchSQL,
  createExecutor,
  defineSchema,
  Request,
} from '@batchsql/core'
import { MockExecutor } from '@batchsql/core/testing'
import { tableSchema } from '@batchsql/kysely'
import { createMysqlBatchSQL } from '@batchsql/mysql'
import { createPostgresBatchSQL } from '@batchsql/postgres'
import { PrometheusMetrics } from '@batchsql/prometheus'
import { createRedisBatchSQL, redisSchemas } from '@batchsql/redis'
import { createSqliteBatchSQL } from '@batchsql/sqlite'
import Database from 'better-sqlite3'
import type { Generated } from 'kysely'
import pg from 'pg'

/** A row type of the application's own: an interface (no index signature) is accepted. */
interface EventRow {
  id: number
  kind: string
}

interface DB {
  events: { id: Generated<number>; kind: string; at: Date }
}

export async function consumer(): Promise<void> {
  const metrics = new PrometheusMetrics({ labels: { service: 'types' } })
  const events = defineSchema({
    table: 'events',
    columns: { id: 'int', kind: 'string', at: 'date' },
  })
  const typed = tableSchema<DB>()({ table: 'events', columns: ['kind', 'at'] })
  // Request setters take the columns of their value's type only.
  const request = new Request(events)
    .setInt('id', 1)
    .setString('kind', 'k')
    .setDate('at', new Date())
  // @ts-expect-error `kind` is a string column
  request.setInt('kind', 1)
  // @ts-expect-error `kind` is a string column of the Kysely table too
  new Request(typed).setDate('kind', new Date())
  const byInterface = defineSchema<EventRow>({
    table: 'events',
    columns: ['id', 'kind'],
    strategy: 'update',
    conflictColumns: ['id'],
  })
  // Columns and required columns from configuration (string[]): rows stay loosely typed.
  const fromConfig: string[] = ['id', 'kind']
  const dynamic = defineSchema({ table: 'events', columns: fromConfig, required: fromConfig })
  void (() => createBatchSQL({ executor: new MockExecutor() }).submit(dynamic, { kind: null }))
  // A misspelt conflict column is an error in the list form too (not a schema of any row).
  // @ts-expect-error 'idd' is not a column
  defineSchema({ table: 't', columns: ['id', 'v'], strategy: 'update', conflictColumns: ['idd'] })

  const pgBatch = createPostgresBatchSQL(new pg.Pool(), { copy: 'never', metrics })
  await pgBatch.submit(typed, { kind: 'click', at: new Date() })
  // A column left undefined is "not given", as at run time, in every form of schema (this
  // file compiles with exactOptionalPropertyTypes on).
  const notes = tableSchema<{ notes: { id: number; note: string | null } }>()({
    table: 'notes',
    columns: ['id', 'note'],
  })
  await pgBatch.submit(notes, { id: 1, note: undefined })
  await pgBatch.submit(events, { id: 1, kind: undefined })
  await pgBatch.submit(defineSchema({ table: 'l', columns: ['id', 'v'] }), { id: 1, v: undefined })
  // @ts-expect-error a column the table requires is still required
  await pgBatch.submit(notes, { id: undefined, note: 'n' })
  // @ts-expect-error unknown column
  await pgBatch.submit(typed, { kind: 'click', colour: 'red' })

  // Options forwarded from optional settings of the application's own (undefined: the
  // default), as the runtime takes them: each refused to compile before (QA 2026-11-29).
  const maybe = (n?: number): number | undefined => n
  const maybeSignal: AbortSignal | undefined = undefined
  const forwarded = createSqliteBatchSQL(':memory:', {
    flushSize: maybe(),
    bufferSize: maybe(),
    timeoutMs: maybe(),
    retry: { maxAttempts: maybe(), initialDelayMs: maybe() },
    groupCommit: undefined,
    onError: undefined,
    signal: maybeSignal,
  })
  await forwarded.submit(events, { id: 3, kind: 'c', at: new Date() }, { signal: maybeSignal })
  await forwarded.close({ timeoutMs: maybe(), signal: maybeSignal })
  void new PrometheusMetrics({ prefix: undefined, buckets: { latency: undefined } })
  void createPostgresBatchSQL(new pg.Pool(), { copy: undefined, rowsPerStatement: maybe() })
  void createRedisBatchSQL('redis://127.0.0.1:6379', { atomic: undefined })

  const my = createMysqlBatchSQL('mysql://root@127.0.0.1:3306/test', { flushSize: 1000 })
  await my.submitMany(events, [{ id: 1, kind: 'a', at: new Date() }])
  const lite = createSqliteBatchSQL(new Database(':memory:'), { groupCommit: false })
  await lite.submit(byInterface, { id: 1, kind: 'k' })
  // @ts-expect-error wrong value type for an interface-typed column
  await lite.submit(byInterface, { id: 'one', kind: 'k' })
  await lite.submitAndWait(
    events,
    { id: 2, kind: 'b', at: new Date() },
    { signal: AbortSignal.timeout(1000) },
  )

  const redis = createRedisBatchSQL('redis://127.0.0.1:6379', { flushInterval: 20 })
  await redis.submit(redisSchemas.set({ prefix: 'types:' }), { key: 'k', value: 'v' })
  const profiles = redisSchemas.hset({ prefix: 'types:user:' })
  await redis.submit(profiles, { key: '42', field: 'name', value: 'Ada' })
  // @ts-expect-error HSET needs its field
  await redis.submit(profiles, { key: '42', value: 'Ada' })

  const mock = createBatchSQL({ executor: new MockExecutor(), metrics })
  const own = createBatchSQL({
    executor: createExecutor({ name: 'sink', process: async () => undefined }, { timeoutMs: 0 }),
  })
  for (const b of [pgBatch, my, lite, redis, mock, own]) await b.close({ timeoutMs: 1000 })
  void runConformanceSuite
}

/** Error classes narrow `code` (and `result`) once `instanceof` has matched. */
export function describeError(err: unknown): string {
  if (err instanceof BatchFailedError) {
    // @ts-expect-error not a code a BatchFailedError carries
    if (err.code === 'BATCHSQL_INVALID_SCHEMA') return 'impossible'
    const code: 'BATCHSQL_BATCH_FAILED' | 'BATCHSQL_OUTCOME_UNKNOWN' | 'BATCHSQL_ABANDONED' =
      err.code
    return `${code} ${err.table} ${err.rowCount}`
  }
  if (err instanceof CloseFailedError) {
    // @ts-expect-error a CloseResult has no such field (the result is not `any`)
    void err.result.nope
    return `${err.code} ${err.result.committed}`
  }
  if (err instanceof ClosedError) {
    const code: 'BATCHSQL_CLOSED' = err.code
    return `${code} ${err.acceptedRows}`
  }
  return err instanceof BatchSQLError ? err.code : 'not ours'
}
