import type { RowFailure } from '@batchsql/core'
import { describe, expect, it } from 'vitest'
import { runScenario } from '../src/runner.js'
import { memoryBackend } from './memory-backend.js'
import { quietContext } from './quiet-context.js'
import { testScenario } from './test-scenario.js'

describe('rows fed by submit() that the database refuses', () => {
  it.each(['submit', 'submitMany'] as const)(
    'are told apart by the errors stream (%s): poison reported, good rows intact',
    async (feed) => {
      // The "database" refuses each row without a payload, as NOT NULL does.
      const backend = memoryBackend({
        onBatch: (batch) => ({
          failures: batch.rows.flatMap((r, index): RowFailure[] =>
            r.toObject().payload === null ? [{ index, error: new Error('NOT NULL') }] : [],
          ),
        }),
      })
      const scenario = testScenario({
        name: 'poison_rows',
        feed,
        manyChunk: 10,
        retry: { maxAttempts: 1 },
        isPoison: (w, s) => (w * 50 + s) % 7 === 3,
      })
      const r = await runScenario(quietContext(), backend, scenario)
      expect(r.poisonSubmitted).toBe(14)
      expect(r.poisonReported).toBe(14)
      expect(r.unexpectedFailures).toBe(0)
      expect(Object.values(r.reportedFailures)).toEqual([14])
      expect(r.verification).toMatchObject({ integrityRate: 100, foundRows: 86 })
      expect(r.problems).toEqual([])
      expect(r.passed).toBe(true)
    },
  )
})
