import { describe, expect, it } from 'vitest'
import { runScenario } from '../src/runner.js'
import { memoryBackend } from './memory-backend.js'
import { quietContext } from './quiet-context.js'
import { testScenario } from './test-scenario.js'

describe('a paced scenario', () => {
  it('that wrote nothing fails (0 of 0 rows found is not a pass)', async () => {
    // Its time bound already passed when the producers start: they submit nothing.
    const scenario = testScenario({
      name: 'long_duration',
      pace: { rowsPerSecond: 1000, maxMs: 0 },
    })
    const r = await runScenario(quietContext(), memoryBackend(), scenario)
    expect(r.submitted).toBe(0)
    expect(r.passed).toBe(false)
    expect(r.problems).toEqual(['no row was written (0 of 100 submitted within 0 s)'])
  })

  it('that stopped early at its time bound but wrote rows passes', async () => {
    const scenario = testScenario({
      name: 'long_duration',
      pace: { rowsPerSecond: 1_000_000, maxMs: 60_000 },
    })
    const r = await runScenario(quietContext(), memoryBackend(), scenario)
    expect(r.submitted).toBe(100)
    expect(r.problems).toEqual([])
    expect(r.passed).toBe(true)
  })
})
