import { defineSchema } from '@batchsql/core'
import { describe, expect, it } from 'vitest'
import type { SuiteContext } from '../context.js'
import { crossRowLocks } from '../provoke.js'
import { createTable } from '../tables.js'

/**
 * Errors from the real server are classified: what to retry, what to report. Through a
 * pipeline's `classify()`, the classification its executor applies (the adapter's own, as
 * the factory wired it), not a function the target could pass apart from it.
 */
export function errorCases(ctx: SuiteContext): void {
  describe('error classification (real server errors)', () => {
    async function lockTable() {
      const t = ctx.target()
      const name = await createTable(
        t,
        [
          { name: 'id', type: 'int', notNull: true },
          { name: 'n', type: 'int' },
        ],
        ['id'],
      )
      ctx.cleanup(name)
      await t.exec(
        `INSERT INTO ${t.quote(name)} (${t.quote('id')}, ${t.quote('n')}) VALUES (1, 0), (2, 0)`,
      )
      return name
    }

    it('a duplicate key is duplicate_key and not retried', async () => {
      const t = ctx.target()
      const name = await lockTable()
      const err = await t
        .exec(`INSERT INTO ${t.quote(name)} (${t.quote('id')}, ${t.quote('n')}) VALUES (1, 1)`)
        .then(
          () => undefined,
          (e: unknown) => e,
        )
      expect(err).toBeDefined()
      expect(ctx.batch().classify(err)).toEqual({ reason: 'duplicate_key', retryable: false })
      // And through a pipeline (its classifiers, the adapter's among them): reported, not retried.
      const schema = defineSchema({ table: name, columns: ['id', 'n'] })
      const batch = ctx.batch({ retry: { maxAttempts: 3, initialDelayMs: 1 } })
      const failed = await batch.submitAndWait(schema, { id: 2, n: 1 }).then(
        () => undefined,
        (e: unknown) => e,
      )
      await batch.close()
      expect(failed).toMatchObject({
        code: 'BATCHSQL_BATCH_FAILED',
        reason: 'duplicate_key',
        attempts: 1,
      })
    })

    it('a missing table is reported once, as a final non-retryable failure', async () => {
      const schema = defineSchema({ table: 'bsc_no_such_table', columns: ['id'] })
      const batch = ctx.batch({ retry: { maxAttempts: 3, initialDelayMs: 1 } })
      const err = await batch.submitAndWait(schema, { id: 1 }).then(
        () => undefined,
        (e: unknown) => e,
      )
      await batch.close()
      expect(err).toMatchObject({ code: 'BATCHSQL_BATCH_FAILED', attempts: 1 })
      expect((err as { reason: string }).reason).toMatch(/syntax|non_retryable/)
    })

    it('a real deadlock is classified deadlock, retryable', async () => {
      const t = ctx.target()
      const provoke =
        t.provokeDeadlock?.bind(t) ?? (t.session && ((table: string) => crossRowLocks(t, table)))
      if (provoke === undefined) {
        // An embedded database has a single writer and no deadlocks: the case does not apply.
        expect(t.embedded, `${t.dialect}: a server database must give session()`).toBe(true)
        return
      }
      const name = await lockTable()
      const err = await provoke(name)
      expect(ctx.batch().classify(err)).toEqual({ reason: 'deadlock', retryable: true })
    })

    it('a real lock wait timeout is classified lock_timeout, retryable', async () => {
      const t = ctx.target()
      if (t.provokeLockTimeout === undefined)
        throw new Error(`${t.dialect}: provokeLockTimeout is required`)
      const name = await lockTable()
      const err = await t.provokeLockTimeout(name)
      expect(ctx.batch().classify(err)).toEqual({ reason: 'lock_timeout', retryable: true })
    })
  })
}
