import { BatchSQLError } from '@batchsql/core'
import { describe, expect, it } from 'vitest'
import { runScenario } from '../src/runner.js'
import { memoryBackend } from './memory-backend.js'
import { quietContext } from './quiet-context.js'
import { testScenario } from './test-scenario.js'

describe('rows reported of unknown outcome in a scenario with a key', () => {
  it.each(['submitAndWait', 'submit'] as const)(
    'are reported as such (%s), not as failed rows gone missing',
    async (feed) => {
      // Every batch holding a row whose id is a multiple of 25 loses its reply: not written
      // here, and the pipeline cannot know (BATCHSQL_OUTCOME_UNKNOWN, never retried).
      const backend = memoryBackend({
        onBatch: (batch) => {
          if (batch.rows.some((r) => (r.toObject().id as number) % 25 === 0))
            throw new BatchSQLError('BATCHSQL_OUTCOME_UNKNOWN', 'reply lost')
        },
      })
      const scenario = testScenario({ name: 'unknown_outcome', feed, retry: { maxAttempts: 1 } })
      const r = await runScenario(quietContext(), backend, scenario)
      const lost = 100 - r.verification.foundRows
      expect(lost).toBeGreaterThan(0)
      // Counted apart (the report says "N reported of unknown outcome (M of them written)"),
      // never as missing; still a failed scenario: good rows whose outcome nobody knows.
      expect(r.verification).toMatchObject({ inDoubtRows: lost, missingRows: 0, failedFound: 0 })
      expect(r.unexpectedFailures).toBe(lost)
      expect(r.problems).toEqual([`${lost} good row(s) failed`])
      expect(r.passed).toBe(false)
    },
  )
})
