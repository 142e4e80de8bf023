import { NoopMetricsReporter } from '@batchsql/core'
import { describe, expect, it } from 'vitest'
import type { SuiteContext } from '../context.js'

/** The pipeline names itself as the target says: metrics and errors are labelled with it. */
export function labelCases(ctx: SuiteContext): void {
  describe('labels', () => {
    it("the pipeline's database label is the target's dialect", async () => {
      const t = ctx.target()
      const seen: string[] = []
      class Recording extends NoopMetricsReporter {
        override bindGauges(database: string): void {
          seen.push(database)
        }
      }
      ctx.batch({ metrics: new Recording() })
      expect(seen).toEqual([t.dialect])
    })
  })
}
