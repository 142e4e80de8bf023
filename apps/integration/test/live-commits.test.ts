import { describe, expect, it, vi } from 'vitest'
import { produce } from '../src/producer.js'
import { LatencyRecorder } from '../src/stats.js'
import { memoryBackend } from './memory-backend.js'
import { testScenario } from './test-scenario.js'

describe('rows fed by submit() (no per-row acknowledgement)', () => {
  it('count as committed while the scenario runs, not only once close() resolved', async () => {
    let release: () => void = () => {}
    const released = new Promise<void>((r) => {
      release = r
    })
    let batches = 0
    // The fifth (last) batch is held: close() cannot resolve before the test lets it go.
    const backend = memoryBackend({
      onBatch: async () => {
        if (++batches === 5) await released
      },
    })
    const scenario = testScenario({
      name: 'memory_pressure',
      feed: 'submit',
      workers: 1,
      perWorker: 50,
      flushSize: 10,
      flushInterval: 60_000,
    })
    const counters = { submitted: 0, committed: 0, settled: 0 }
    const producing = produce({
      backend,
      pipeline: backend.pipeline(scenario),
      schema: backend.schema('t', 'insert'),
      table: 't',
      scenario,
      workers: [0],
      counters,
      latencies: new LatencyRecorder(),
    })
    try {
      await vi.waitFor(() => expect(counters.committed).toBe(40), { timeout: 5000 })
    } finally {
      release()
    }
    const result = await producing
    // Credited once: the live count and close()'s account agree.
    expect(counters.committed).toBe(50)
    expect(result.closeProblems).toEqual([])
  })
})
