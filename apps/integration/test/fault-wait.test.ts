import { describe, expect, it } from 'vitest'
import { faultPatienceMs, untilFaultPoint } from '../src/fault-point.js'
import { runScenario } from '../src/runner.js'
import { memoryBackend } from './memory-backend.js'
import { quietContext } from './quiet-context.js'
import { testScenario } from './test-scenario.js'

describe('the fault scenario when nothing commits', () => {
  it('ends, failing with the reason, instead of waiting for ever for 30% committed', {
    timeout: 20_000,
  }, async () => {
    // Every write refused, no retry: nothing ever commits, so the fault point never comes.
    const backend = memoryBackend({
      onBatch: () => {
        throw new Error('refused')
      },
    })
    const scenario = testScenario({ name: 'fault', faultAt: 0.3, retry: { maxAttempts: 1 } })
    const r = await runScenario(quietContext(), backend, scenario)
    expect(r.passed).toBe(false)
    expect(r.fault).toMatch(/^not injected: 0 of the 30 committed rows it waits for/)
    expect(r.problems).toContainEqual(expect.stringMatching(/^the fault was not injected: /))
    // The producers were released: every row was still submitted (and reported failed).
    expect(r.submitted).toBe(100)
    expect(r.unexpectedFailures).toBe(100)
  })

  it('gives up once nothing committed for as long as a batch may take to settle', async () => {
    // A batch in flight that never ends: the pipeline is not idle, only stuck.
    const stuck = { committed: 3, failed: 0, pending: 0, waitingSubmits: 0, inFlightBatches: 1 }
    const point = await untilFaultPoint({
      at: 30,
      holdAt: 90,
      patienceMs: 50,
      submitted: () => 90,
      progress: () => stuck,
      stop: new AbortController().signal,
    })
    expect(point).toMatchObject({ reached: false, failed: true })
    expect(point.reached === false && point.why).toMatch(
      /^no row committed for 0\.1 s .*3 of the 30/,
    )
  })

  it('waits as long as the scenario’s retry settings let one batch take', () => {
    // A flush interval, 3 attempts of at most 1 s each, backoffs of 50 then min(100, 80) ms.
    const ms = faultPatienceMs(
      { flushInterval: 100, retry: { maxAttempts: 3, initialDelayMs: 50, maxDelayMs: 80 } },
      1000,
    )
    expect(ms).toBe(100 + 3 * 1000 + 50 + 80)
  })
})
