import { describe, expect, it } from 'vitest'
import { runScenario, UnverifiedError } from '../src/runner.js'
import { memoryBackend } from './memory-backend.js'
import { quietContext } from './quiet-context.js'
import { testScenario } from './test-scenario.js'

describe('a scenario whose table cannot be read back', () => {
  it('is reported as run but not verified, with what the pipeline reported', async () => {
    // The server went down after the rows were written: the read-back fails.
    const backend = {
      ...memoryBackend(),
      async readBack() {
        throw new Error('connect ECONNREFUSED 127.0.0.1:5493')
      },
    }
    const err = await runScenario(quietContext(), backend, testScenario({ name: 'down' })).catch(
      (e: unknown) => e,
    )
    expect(err).toBeInstanceOf(UnverifiedError)
    expect((err as Error).message).toBe(
      'ran (100 submitted, 100 acknowledged committed, 0 good row(s) reported failed) but could not be verified: connect ECONNREFUSED 127.0.0.1:5493',
    )
  })
})
