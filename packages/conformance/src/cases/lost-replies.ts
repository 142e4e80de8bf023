import { BatchFailedError, defineSchema, type Schema } from '@batchsql/core'
import type { SqlBatchSQL } from '@batchsql/kysely'
import { describe, expect, it, vi } from 'vitest'
import type { SuiteContext } from '../context.js'
import { ReplyCutter } from '../reply-cutter.js'
import { countRows, createTable, readTable } from '../tables.js'
import type { ConformanceTarget } from '../target.js'

/**
 * A connection lost while a committing statement is in flight: the server may have committed.
 * A plain insert (or an ignore without conflict columns: nothing says a unique key exists)
 * must then be reported (BATCHSQL_OUTCOME_UNKNOWN), never retried into a second copy of its
 * rows; an upsert is idempotent and is retried.
 */
export function lostReplyCases(ctx: SuiteContext): void {
  describe('a reply lost in flight', () => {
    interface Cut {
      t: ConformanceTarget
      cutter: ReplyCutter
      batch: SqlBatchSQL
      /**
       * A fresh table (`id` int, `v` string), with a primary key on `id` when `keyed`; `id` is
       * NOT NULL unless `nullableId`.
       */
      table(keyed: boolean, nullableId?: boolean): Promise<string>
      /** A keyed table with an upsert schema on it, row 1 written as 'before'. */
      seededUpsert(): Promise<{ name: string; schema: Schema }>
    }

    /**
     * Runs `body` with a pipeline of one connection through a ReplyCutter. An embedded
     * database has no connection to lose: there the case checks that the target says it is one.
     */
    // The proxy finds the statement whose reply it cuts by its SQL text in the client's bytes.
    const NOT_SEEN =
      'the reply to cut was never seen: the suite recognises the statement by its SQL text, which a driver sending prepared statements by name (postgres.js by default) does not send again; run the suite with that off'

    async function withCutter(body: (c: Cut) => Promise<void>): Promise<void> {
      const t = ctx.target()
      if (t.network === undefined) {
        expect(t.embedded, `${t.dialect}: a server database must give network`).toBe(true)
        return
      }
      const cutter = new ReplyCutter(t.network.host, t.network.port)
      const port = await cutter.listen()
      const batch = t.network.createBatchSQL(port, {
        concurrency: 1,
        flushInterval: 1,
        flushSize: 5000,
        retry: { maxAttempts: 5, initialDelayMs: 10, maxDelayMs: 20 },
      })
      const table = async (keyed: boolean, nullableId = false) => {
        const columns = [
          { name: 'id', type: 'int', notNull: !nullableId },
          { name: 'v', type: 'string' },
        ] as const
        const name = await createTable(t, columns, keyed ? ['id'] : [])
        ctx.cleanup(name)
        return name
      }
      const seededUpsert = async () => {
        const name = await table(true)
        const schema = defineSchema({
          table: name,
          columns: ['id', 'v'],
          strategy: 'update',
          conflictColumns: ['id'],
        })
        await batch.submitAndWait(schema, { id: 1, v: 'before' })
        return { name, schema }
      }
      try {
        await body({ t, cutter, batch, table, seededUpsert })
      } finally {
        await batch.close({ timeoutMs: 10_000 })
        await cutter.close()
      }
    }

    it('a server that stops answering: close() with a deadline returns, reports the row, and lets go of every connection', () =>
      withCutter(async ({ cutter, batch, table }) => {
        // A paused server (SIGSTOP) or a partition closes nothing: the pool's end() waited for
        // it, and its sockets kept the process alive as long as the pause lasted, long after
        // close() had returned (QA 2026-11-29: 40 s). A factory's own pool must let go.
        const name = await table(false)
        const schema = defineSchema({ table: name, columns: ['id', 'v'] })
        await batch.submitAndWait(schema, { id: 1, v: 'before' })
        expect(cutter.socketsHere() ?? cutter.openClients).toBeGreaterThan(0)
        cutter.hang(true)
        const outcome = batch.submitAndWait(schema, { id: 2, v: 'paused' }).then(
          () => 'committed',
          (e: unknown) => e,
        )
        await vi.waitFor(() => expect(cutter.heldBytes).toBeGreaterThan(0), { timeout: 10_000 })
        await batch.close({ timeoutMs: 200 })
        expect(await outcome).toBeInstanceOf(BatchFailedError)
        expect(['BATCHSQL_OUTCOME_UNKNOWN', 'BATCHSQL_ABANDONED']).toContain(
          ((await outcome) as BatchFailedError).code,
        )
        // Soon after (a second to end gracefully, then the sockets are dropped): counted in
        // this process's own sockets where the system shows them (a socket only half-closed, as
        // mysql2's destroy() leaves it, holds the process too), else as the proxy sees them.
        await vi.waitFor(() => expect(cutter.socketsHere() ?? cutter.openClients).toBe(0), {
          timeout: 10_000,
        })
        cutter.hang(false)
      }))

    it('a plain insert whose reply is lost is reported as of unknown outcome, never written twice', () =>
      withCutter(async ({ t, cutter, batch, table }) => {
        // No key: a second copy of a row would go unnoticed by the database.
        const name = await table(false)
        const schema = defineSchema({ table: name, columns: ['id', 'v'] })
        // The connection exists before the cuts, so the replies dropped are the batches'.
        await batch.submitAndWait(schema, { id: 1, v: 'before' })
        // Cut the first, second, third reply of a batch in turn: where a reply comes after the
        // commit (an INSERT's first, a COPY's second), the row is written and must be reported
        // as of unknown outcome; where it comes before (a COPY's first), the row is not written
        // and may be retried. Never may a row be written twice.
        const outcomes = new Map<number, unknown>()
        for (const skip of [0, 1, 2]) {
          const id = 10 + skip
          // A connection open before the cut (the last one was dropped), so the replies
          // counted are this batch's and not a new connection's handshake.
          await batch.submitAndWait(schema, { id: 100 + skip, v: 'warm' })
          cutter.cutNextReply(skip)
          outcomes.set(
            id,
            await batch.submitAndWait(schema, { id, v: 'cut' }).then(
              () => 'committed',
              (e: unknown) => e,
            ),
          )
          cutter.disarm()
        }
        await batch.submitAndWait(schema, { id: 2, v: 'after' })
        const result = await batch.close()
        const ids = (await readTable(t, name, 'id')).map((r) => Number(r.id))
        let unknown = 0
        for (const [id, outcome] of outcomes) {
          const copies = ids.filter((x) => x === id).length
          if (outcome === 'committed') {
            expect(copies, `row ${id}`).toBe(1)
          } else {
            expect(outcome, `row ${id}`).toBeInstanceOf(BatchFailedError)
            expect(outcome, `row ${id}`).toMatchObject({ code: 'BATCHSQL_OUTCOME_UNKNOWN' })
            expect(copies, `row ${id}`).toBeLessThanOrEqual(1)
            unknown++
          }
        }
        // The case did reach a reply lost after a commit.
        expect(unknown).toBeGreaterThan(0)
        expect(result).toMatchObject({ committed: 5 + 3 - unknown, failed: unknown })
        expect(ids.filter((id) => id < 10 || id >= 100)).toEqual([1, 2, 100, 101, 102])
      }))

    it('an ignore without conflict columns whose reply is lost is never written twice', () =>
      withCutter(async ({ t, cutter, batch, table }) => {
        // No unique key, so INSERT IGNORE / ON CONFLICT DO NOTHING ignore nothing: a retry of
        // a statement that committed would add a second copy, as a plain insert's would.
        const name = await table(false)
        const schema = defineSchema({ table: name, columns: ['id', 'v'], strategy: 'ignore' })
        await batch.submitAndWait(schema, { id: 1, v: 'before' })
        cutter.cutReplyTo(/insert/i)
        const outcome = await batch.submitAndWait(schema, { id: 2, v: 'cut' }).then(
          () => 'committed',
          (e: unknown) => e,
        )
        cutter.disarm()
        await batch.close()
        expect(cutter.cuts, NOT_SEEN).toBe(1)
        const copies = (await readTable(t, name, 'id')).filter((r) => Number(r.id) === 2).length
        expect(copies).toBeLessThanOrEqual(1)
        if (outcome === 'committed') expect(copies).toBe(1)
        // Written, and the caller not told so: only "unknown" is true (a lone statement's reply
        // comes after its commit; a COPY path's staging INSERT is inside its transaction).
        else if (copies === 1) expect(outcome).toMatchObject({ code: 'BATCHSQL_OUTCOME_UNKNOWN' })
      }))

    it('an ignore whose row has a null or unset conflict key is never written twice when its reply is lost', () =>
      withCutter(async ({ t, cutter, batch, table }) => {
        // A unique index on a nullable column: a null key (or one left to the default) matches
        // no row, so INSERT IGNORE / ON CONFLICT (id) DO NOTHING would take a retry's copy.
        const name = await table(false, true)
        await t.exec(
          `CREATE UNIQUE INDEX ${t.quote(`${name}_id`)} ON ${t.quote(name)} (${t.quote('id')})`,
        )
        const schema = defineSchema({
          table: name,
          columns: ['id', 'v'],
          strategy: 'ignore',
          conflictColumns: ['id'],
        })
        await batch.submitAndWait(schema, { id: 1, v: 'before' })
        for (const row of [{ id: null, v: 'null key' }, { v: 'unset key' }]) {
          cutter.cutReplyTo(/insert/i)
          const outcome = await batch.submitAndWait(schema, row).then(
            () => 'committed',
            (e: unknown) => e,
          )
          cutter.disarm()
          const copies = (await readTable(t, name, 'id')).filter((r) => r.v === row.v).length
          expect(copies, row.v).toBeLessThanOrEqual(1)
          if (outcome === 'committed') expect(copies, row.v).toBe(1)
          else if (copies === 1)
            expect(outcome, row.v).toMatchObject({ code: 'BATCHSQL_OUTCOME_UNKNOWN' })
        }
        expect(cutter.cuts, NOT_SEEN).toBe(2)
      }))

    it('a transaction that loses its connection before COMMIT is retried, and written once', () =>
      withCutter(async ({ t, cutter, batch, table }) => {
        const name = await table(false)
        const schema = defineSchema({ table: name, columns: ['id', 'v'] })
        await batch.submitAndWait(schema, { id: 0, v: 'before' })
        // 5,000 rows: more than one statement (the README asks rowsPerStatement < 5,000), so one transaction;
        // the reply cut is its BEGIN's, and a transaction never committed is safe to rerun.
        const rows = Array.from({ length: 5000 }, (_, i) => ({ id: i + 1, v: 'x' }))
        cutter.cutNextReply()
        await batch.submitMany(schema, rows)
        const result = await batch.close()
        expect(cutter.cuts).toBe(1)
        expect(result).toMatchObject({ committed: 5001, failed: 0 })
        expect(await countRows(t, name)).toBe(5001)
      }))

    it('a transaction whose COMMIT reply is lost is reported as of unknown outcome, never rerun', () =>
      withCutter(async ({ t, cutter, batch, table }) => {
        const name = await table(false)
        const schema = defineSchema({ table: name, columns: ['id', 'v'] })
        await batch.submitAndWait(schema, { id: 0, v: 'before' })
        // 5,000 rows: several statements in one transaction; the reply to its COMMIT is lost
        // (the server committed). A dialect path without COMMIT (one COPY) sees no cut.
        const rows = Array.from({ length: 5000 }, (_, i) => ({ id: i + 1, v: 'x' }))
        cutter.cutReplyTo(/commit/i)
        const acks = rows.map((r) =>
          batch.submitAndWait(schema, r).then(
            () => undefined,
            (e: unknown) => e,
          ),
        )
        const outcomes = await Promise.all(acks)
        cutter.disarm()
        const result = await batch.close()
        // Every row there exactly once: the committed transaction was never run again.
        expect(await countRows(t, name)).toBe(5001)
        if (cutter.cuts === 0) {
          expect(outcomes.every((o) => o === undefined)).toBe(true)
          return
        }
        expect(outcomes.every((o) => o instanceof BatchFailedError)).toBe(true)
        expect(outcomes[0]).toMatchObject({ code: 'BATCHSQL_OUTCOME_UNKNOWN' })
        expect(result).toMatchObject({ committed: 1, failed: 5000 })
      }))

    it('an upsert whose reply is lost is retried: idempotent, written once', () =>
      withCutter(async ({ t, cutter, batch, seededUpsert }) => {
        const { name, schema } = await seededUpsert()
        cutter.cutNextReply()
        await batch.submitAndWait(schema, { id: 1, v: 'cut' })
        const result = await batch.close()
        expect(cutter.cuts).toBe(1)
        expect(result).toMatchObject({ committed: 2, failed: 0 })
        expect(await countRows(t, name)).toBe(1)
        expect((await readTable(t, name, 'id'))[0]).toMatchObject({ v: 'cut' })
      }))

    it('an upsert whose reply is lost and whose retries cannot reach the server is reported as of unknown outcome, not failed', () =>
      withCutter(async ({ t, cutter, batch, seededUpsert }) => {
        const { name, schema } = await seededUpsert()
        // The upsert commits, its reply is lost, and the server is unreachable for every
        // retry (a failover, say): the rows were written, so "failed" would be false.
        cutter.cutReplyTo(/update/i)
        const cut = batch.submitAndWait(schema, { id: 1, v: 'cut' }).then(
          () => 'committed',
          (e: unknown) => e,
        )
        const deadline = Date.now() + 20_000
        while (cutter.cuts === 0) {
          if (Date.now() > deadline) throw new Error(NOT_SEEN)
          await new Promise((r) => setTimeout(r, 1))
        }
        cutter.refuseConnections(true)
        const outcome = await cut
        cutter.refuseConnections(false)
        expect(outcome).toBeInstanceOf(BatchFailedError)
        expect(outcome).toMatchObject({ reason: 'connection' })
        // Where the reply cut came after the commit (a lone INSERT), the row is written and
        // must be reported so; where it came inside a transaction (a COPY path's staging), the
        // row is not written and may be reported failed.
        const [row] = await readTable(t, name, 'id')
        if (row!.v === 'cut') expect(outcome).toMatchObject({ code: 'BATCHSQL_OUTCOME_UNKNOWN' })
        else expect(row).toMatchObject({ v: 'before' })
      }))
  })
}
