/**
 * The conformance suite every SQL dialect package runs from one test file:
 *
 *     import { runConformanceSuite } from '@batchsql/conformance'
 *     runConformanceSuite({ name: 'postgres', connect: async () => myTarget })
 *
 * It writes through the adapter and reads back through the bare driver.
 */
import type { BatchSQL } from '@batchsql/core'
import type { SqlBatchSQLConfig } from '@batchsql/kysely'
import { afterAll, afterEach, beforeAll, describe } from 'vitest'
import { chunkingCases } from './cases/chunking.js'
import { concurrencyCases } from './cases/concurrency.js'
import { duplicateCases } from './cases/duplicates.js'
import { errorCases } from './cases/errors.js'
import { identifierCases } from './cases/identifiers.js'
import { kyselyTargetCases } from './cases/kysely-target.js'
import { labelCases } from './cases/labels.js'
import { lostReplyCases } from './cases/lost-replies.js'
import { strategyCases } from './cases/strategies.js'
import { timeoutCases } from './cases/timeouts.js'
import { valueCases } from './cases/values.js'
import type { SuiteContext } from './context.js'
import { dropTable } from './tables.js'
import type { ConformanceOptions, ConformanceTarget } from './target.js'

export function runConformanceSuite(options: ConformanceOptions): void {
  describe(`${options.name} conformance`, () => {
    let target: ConformanceTarget | undefined
    let open: BatchSQL[] = []
    let tables: string[] = []

    const ctx: SuiteContext = {
      options,
      target() {
        if (target === undefined) throw new Error('conformance: target not connected')
        return target
      },
      batch(config?: SqlBatchSQLConfig) {
        const b = ctx.target().createBatchSQL(config)
        open.push(b)
        return b
      },
      cleanup(table: string) {
        tables.push(table)
      },
    }

    beforeAll(async () => {
      target = await options.connect()
    })
    afterEach(async () => {
      await Promise.all(open.map((b) => b.close({ timeoutMs: 10_000 })))
      for (const t of tables) await dropTable(ctx.target(), t)
      open = []
      tables = []
    })
    afterAll(async () => {
      await target?.close()
    })

    strategyCases(ctx)
    duplicateCases(ctx)
    chunkingCases(ctx)
    valueCases(ctx)
    identifierCases(ctx)
    kyselyTargetCases(ctx)
    labelCases(ctx)
    errorCases(ctx)
    timeoutCases(ctx)
    lostReplyCases(ctx)
    concurrencyCases(ctx)
  })
}
