/**
 * A producer process (`--processes N`): runs some of a scenario's producers against the
 * same database with a pipeline of its own, and sends its counts and latencies back.
 */
import { openBackend } from './backends/open.js'
import type { AppConfig, DatabaseName } from './config.js'
import { forwardingReporter } from './forwarded-metrics.js'
import { onParentGone, sendToParent } from './parent-channel.js'
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
  // Ctrl-C reaches the whole process group, and the parent passes on a SIGTERM: stop
  // submitting, settle what was submitted and report it, like the parent's own producers.
  // Installed first, so that a signal during start-up does the same.
  const stop = new AbortController()
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => stop.abort(new Error(signal)))
  // The parent gone (it quit at a second signal, or was killed): nobody verifies these rows
  // any more; stop as on a signal, settle what was submitted and end quietly.
  onParentGone(() => stop.abort(new Error('parent process gone')))
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
  let reportedCommits = 0
  const pipeline = backend.pipeline({
    flushSize: scenario.flushSize,
    bufferSize: scenario.bufferSize,
    flushInterval: scenario.flushInterval,
    retry: scenario.retry,
    metrics: forwardingReporter((call) => void sendToParent({ call })),
  })
  // Progress, commits and queue gauges for the parent's live figures and /metrics.
  const tick = () => {
    const stats = pipeline.stats()
    void sendToParent({
      progress: counters.submitted - reported,
      committed: counters.committed - reportedCommits,
      gauges: [stats.pending, stats.inFlightBatches],
    })
    reported = counters.submitted
    reportedCommits = counters.committed
  }
  const timer = setInterval(tick, 500)
  const result = await produce({
    backend,
    pipeline,
    schema: backend.schema(task.table, scenario.strategy, { keyless: scenario.keyless === true }),
    table: task.table,
    scenario,
    workers: task.workers,
    counters,
    latencies,
    deadline: scenario.pace ? Date.now() + scenario.pace.maxMs : undefined,
    stop: stop.signal,
  })
  clearInterval(timer)
  tick()
  await sendToParent({ done: { result, latencies: latencies.snapshot() } })
  await backend.close()
}
