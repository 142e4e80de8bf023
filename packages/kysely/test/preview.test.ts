import { defineSchema } from '@batchsql/core'
import {
  CamelCasePlugin,
  DummyDriver,
  Kysely,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
  sql,
} from 'kysely'
import { afterEach, describe, expect, it } from 'vitest'
import { createKyselyBatchSQL, type SqlBatchSQL } from '../src/index.js'
import { planningAdapter } from './fake-adapter.js'

// Compiles only (DummyDriver runs nothing): preview() never runs a statement.
const compileOnly = () =>
  new Kysely<any>({
    dialect: {
      createAdapter: () => new SqliteAdapter(),
      createDriver: () => new DummyDriver(),
      createIntrospector: (k) => new SqliteIntrospector(k),
      createQueryCompiler: () => new SqliteQueryCompiler(),
    },
  })
const base = compileOnly()
const adapter = planningAdapter({
  name: 'sqlite',
  buildInsert: (db, shape, rows) =>
    db
      .insertInto(shape.schema.table)
      .values(rows as never)
      .onConflict((oc) =>
        oc
          .columns(shape.schema.conflictColumns as never)
          .doUpdateSet(
            Object.fromEntries(shape.updateColumns.map((c) => [c, sql`excluded.${sql.id(c)}`])),
          ),
      ),
})
const events = () =>
  defineSchema({
    table: 'events',
    columns: ['userId', 'kind'],
    strategy: 'update',
    conflictColumns: ['userId'],
  })

let open: SqlBatchSQL[] = []
function pipeline(db: Kysely<any>): SqlBatchSQL {
  const b = createKyselyBatchSQL(db, adapter)
  open.push(b)
  return b
}
afterEach(async () => {
  await Promise.all(open.map((b) => b.close()))
  open = []
})

describe('preview().fingerprint', () => {
  it("differs between Kysely instances whose plugins write other tables or columns (the statement's text, not the schema's names)", () => {
    const row = [{ userId: 1, kind: 'x' }]
    const previews = [
      base,
      base.withSchema('a'),
      base.withSchema('b'),
      base.withPlugin(new CamelCasePlugin()),
    ].map((db) => pipeline(db).preview(events(), row))
    expect(previews.map((p) => p.sql)).toEqual([
      'insert into "events" ("userId", "kind") values (?, ?) on conflict ("userId") do update set "kind" = excluded."kind"',
      'insert into "a"."events" ("userId", "kind") values (?, ?) on conflict ("userId") do update set "kind" = excluded."kind"',
      'insert into "b"."events" ("userId", "kind") values (?, ?) on conflict ("userId") do update set "kind" = excluded."kind"',
      'insert into "events" ("user_id", "kind") values (?, ?) on conflict ("user_id") do update set "kind" = excluded."kind"',
    ])
    expect(new Set(previews.map((p) => p.fingerprint)).size).toBe(4)
  })

  it('is the same for 1 and 5,000 rows, for equal schemas and for another instance without plugins', () => {
    const one = pipeline(base).preview(events(), [{ userId: 1, kind: 'x' }])
    const many = pipeline(base).preview(
      events(),
      Array.from({ length: 5000 }, (_, i) => ({ userId: i, kind: `k${i}` })),
    )
    expect(many.rows).toBe(5000)
    expect(many.sql).not.toBe(one.sql)
    expect(many.fingerprint).toBe(one.fingerprint)
    const elsewhere = compileOnly()
    expect(pipeline(elsewhere).preview(events(), [{ userId: 2, kind: 'y' }]).fingerprint).toBe(
      one.fingerprint,
    )
    // Rows that leave a column unset write other columns: another statement.
    expect(pipeline(base).preview(events(), [{ userId: 1 }]).fingerprint).not.toBe(one.fingerprint)
  })
})
