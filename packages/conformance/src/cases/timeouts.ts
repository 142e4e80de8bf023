import { defineSchema } from '@batchsql/core'
import { describe, expect, it } from 'vitest'
import type { SuiteContext } from '../context.js'
import { countRows, createTable } from '../tables.js'

/**
 * A statement the executor gives up on (past `timeoutMs`) must not run on in the server and
 * commit later: on a pool BatchSQL creates, the server ends it, so the attempt is a certain
 * failure, retried, and nothing is written once the blocking lock is gone.
 */
export function timeoutCases(ctx: SuiteContext): void {
  describe('a statement the executor gives up on', () => {
    it('is ended by the server: a certain failure, retried, nothing written later', async () => {
      const t = ctx.target()
      if (t.session === undefined) {
        // An embedded database runs in the process: no statement outlives the attempt.
        expect(t.embedded, `${t.dialect}: a server database must give session`).toBe(true)
        return
      }
      const name = await createTable(
        t,
        [
          { name: 'id', type: 'int', notNull: true },
          { name: 'v', type: 'string' },
        ],
        ['id'],
      )
      ctx.cleanup(name)
      // 1000 ms: MariaDB bounds lock waits in whole seconds (innodb_lock_wait_timeout, at
      // least 1), and the executor waits one more timeoutMs for a statement it gave up on
      // before calling its outcome unknown; the server must end it within that window.
      const batch = ctx.batch({
        timeoutMs: 1000,
        retry: { maxAttempts: 2, initialDelayMs: 1, maxDelayMs: 2 },
      })
      const schema = defineSchema({ table: name, columns: ['id', 'v'] })
      // An uncommitted row with the same key, on a session of its own: BatchSQL's INSERT
      // waits on its lock.
      const blocker = await t.session()
      let err: unknown
      try {
        await blocker.exec('BEGIN')
        await blocker.exec(`INSERT INTO ${t.quote(name)} (${t.quote('id')}) VALUES (1)`)
        err = await batch.submitAndWait(schema, { id: 1, v: 'batchsql' }).then(
          () => undefined,
          (e: unknown) => e,
        )
      } finally {
        await blocker.exec('ROLLBACK').catch(() => {})
        await blocker.release()
      }
      // Had the server left the statement blocked, it could commit now that the lock is free.
      await batch.close()
      // Failed for certain (the server ended the statement), not of unknown outcome.
      expect(err).toMatchObject({ code: 'BATCHSQL_BATCH_FAILED', attempts: 2 })
      expect((err as { reason: string }).reason).toMatch(/^(timeout|lock_timeout)$/)
      expect(await countRows(t, name)).toBe(0)
    })
  })
}
