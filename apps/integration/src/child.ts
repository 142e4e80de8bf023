/**
 * A producer process (`--processes N`): runs some of a scenario's producers against the
 * same database with a pipeline of its own, and sends its counts and latencies back.
 */
import { openBackend } from './backends/open.js'
import type { AppConfig, DatabaseName } from './config.js'
import { produce } from './producer.js'
import { buildScenarios } from './scenarios.js'
import { LatencyRecorder } from './stats.js'

interface ChildTask {
  database: DatabaseName
  scenario: string
  table: string
  workers: number[]
  config: AppConfig
}

export async function runChild(task: ChildTask): Promise<void> {
  const scenario = buildScenarios(task.config).find((s) => s.name === task.scenario)
  if (scenario === undefined) throw new Error(`unknown scenario ${task.scenario}`)
  const backend = await openBackend(
    task.database,
    task.config,
    process.env.INIT_CWD ?? process.cwd(),
    true,
  )
  const latencies = new LatencyRecorder()
  const counters = { submitted: 0, committed: 0, settled: 0 }
  let reported = 0
  const timer = setInterval(() => {
    process.send?.({ progress: counters.submitted - reported })
    reported = counters.submitted
  }, 500)
  const pipeline = backend.pipeline({
    flushSize: scenario.flushSize,
    bufferSize: scenario.bufferSize,
    flushInterval: scenario.flushInterval,
    retry: scenario.retry,
  })
  const result = await produce({
    backend,
    pipeline,
    schema: backend.schema(task.table, scenario.strategy),
    table: task.table,
    scenario,
    workers: task.workers,
    counters,
    latencies,
    deadline: scenario.pace ? Date.now() + scenario.pace.maxMs : undefined,
  })
  clearInterval(timer)
  process.send?.({ progress: counters.submitted - reported })
  await new Promise<void>((resolve) =>
    process.send?.({ done: { result, latencies: latencies.values() } }, () => resolve()),
  )
  await backend.close()
}
