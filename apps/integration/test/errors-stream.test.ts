import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { produce } from '../src/producer.js'
import { LatencyRecorder } from '../src/stats.js'
import { memoryBackend } from './memory-backend.js'
import { testScenario } from './test-scenario.js'

/** Runs the producers of `feed` against a pipeline that refuses every row. */
async function refusedEverywhere(feed: 'submitAndWait' | 'submit' | 'submitMany') {
  // An errors buffer of 2: unread, it would overflow at the third failure.
  const backend = memoryBackend(
    {
      onBatch: () => {
        throw new Error('refused')
      },
    },
    2,
  )
  const scenario = testScenario({
    name: 'refused',
    feed,
    manyChunk: 5,
    flushSize: 5,
    retry: { maxAttempts: 1 },
  })
  const counters = { submitted: 0, committed: 0, settled: 0 }
  const pipeline = backend.pipeline(scenario)
  const result = await produce({
    backend,
    pipeline,
    schema: backend.schema('t', 'insert'),
    table: 't',
    scenario,
    workers: [0, 1],
    counters,
    latencies: new LatencyRecorder(),
  })
  return { result, droppedErrors: pipeline.stats().droppedErrors }
}

describe('the pipeline’s errors stream', () => {
  const warnings: Error[] = []
  const onWarning = (w: Error) => warnings.push(w)
  beforeEach(() => {
    warnings.length = 0
    process.on('warning', onWarning)
  })
  afterEach(() => {
    process.off('warning', onWarning)
  })

  it.each(['submitAndWait', 'submit', 'submitMany'] as const)(
    'is read (%s): every failure counted per reason, none dropped',
    async (feed) => {
      const { result, droppedErrors } = await refusedEverywhere(feed)
      expect(droppedErrors).toBe(0)
      const dropped = warnings.filter(
        (w) => (w as { code?: string }).code === 'BATCHSQL_DROPPED_ERRORS',
      )
      expect(dropped).toEqual([])
      expect(Object.values(result.reportedFailures).reduce((a, b) => a + b, 0)).toBe(100)
      expect(Object.keys(result.reportedFailures)).toHaveLength(1)
      // Every refused row is a lost good row, whichever way it was fed.
      expect(result.unexpectedFailures).toBe(100)
      // Per reason, as the stream reported them (no longer a bare "failed" for submit()).
      expect(result.failuresByReason).toEqual(result.reportedFailures)
      expect(result.closeProblems).toEqual([])
    },
  )
})
