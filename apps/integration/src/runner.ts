/**
 * Runs one scenario on one database, isolated: its own table (created fresh, dropped
 * after), its own pipeline and connections. Samples rates and memory every second for the
 * live display and /metrics, then verifies and judges the result.
 */

import { fork } from 'node:child_process'
import { unlessAborted } from './abortable.js'
import type { Backend } from './backends/backend.js'
import type { AppConfig } from './config.js'
import { faultPatienceMs, untilFaultPoint } from './fault-point.js'
import { type MetricCall, replay, SampledGauges } from './forwarded-metrics.js'
import type { Metrics } from './metrics.js'
import { emptyResult, type ProducerCounters, type ProducerResult, produce } from './producer.js'
import type { Progress } from './progress.js'
import type { Scenario } from './scenarios.js'
import { collectGarbage, GcCounter, LatencyRecorder, type LatencySnapshot, mb } from './stats.js'
import { expectedDigests, formatIntegrity, intact, type Verification, verify } from './verify.js'

export interface TimelinePoint {
  /** Seconds since the scenario started. */
  t: number
  submitRps: number
  commitRps: number
  rssMB: number
  heapUsedMB: number
}

export interface ScenarioResult {
  database: string
  scenario: string
  description: string
  strategy: string
  processes: number
  submitted: number
  poisonSubmitted: number
  poisonReported: number
  unexpectedFailures: number
  failuresByReason: Record<string, number>
  /** Rows the pipeline reported failed on its `errors` stream, per reason. */
  reportedFailures: Record<string, number>
  verification: Verification
  /** Rows accepted ÷ time from first submit to last submit accepted. */
  submitRate: number
  /**
   * Rows acknowledged committed ÷ time from first submit to `close()` resolved (an upsert that
   * updated an earlier row counts: it was a write); null unless integrity is 100%.
   */
  persistedRate: number | null
  durationSeconds: number
  latencyMs: { p50: number; p95: number; p99: number; max: number; samples: number }
  memory: { startRssMB: number; peakRssMB: number; peakHeapUsedMB: number; endRssMB: number }
  gc: { count: number; pauseMs: number }
  fault: string | null
  timeline: TimelinePoint[]
  passed: boolean
  problems: string[]
}

export interface RunContext {
  config: AppConfig
  metrics: Metrics
  progress: Progress
  /** Path of the app's entry script, for child processes. */
  entry: string
  /** Aborted on Ctrl-C / SIGTERM: producers stop, what they submitted is settled and verified. */
  stop: AbortSignal
}

/** What a producer process posts: progress ticks, metric calls, and its result at the end. */
interface FromChild {
  progress?: number
  committed?: number
  gauges?: [queueLength: number, inFlightBatches: number]
  call?: MetricCall
  done?: ChildMessage
}

interface ChildMessage {
  result: ProducerResult
  latencies: LatencySnapshot
}

function runInChildren(
  ctx: RunContext,
  backend: Backend,
  scenario: Scenario,
  table: string,
  counters: ProducerCounters,
  latencies: LatencyRecorder,
): Promise<ProducerResult> {
  const database = backend.name
  const n = Math.min(ctx.config.processes, scenario.workers)
  const parts: number[][] = Array.from({ length: n }, () => [])
  for (let w = 0; w < scenario.workers; w++) parts[w % n]!.push(w)
  const children: ReturnType<typeof fork>[] = []
  // Every process is waited for, also when one fails: the scenario's table is dropped after
  // this returns, and a sibling still flushing would write into it (or, on Redis, recreate it).
  return Promise.allSettled(
    parts.map(
      (workers) =>
        new Promise<ChildMessage>((resolve, reject) => {
          const child = fork(ctx.entry, [], {
            env: {
              ...process.env,
              BATCHSQL_CHILD: JSON.stringify({
                database,
                scenario: scenario.name,
                table,
                workers,
                // SQLite: the file this run claimed, which may not be the one configured.
                config: backend.file ? { ...ctx.config, sqlitePath: backend.file } : ctx.config,
              }),
            },
            stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
          })
          children.push(child)
          let message: ChildMessage | undefined
          // A SIGTERM to this process alone is passed on (Ctrl-C reaches the children itself).
          const passOn = () => child.kill('SIGTERM')
          if (ctx.stop.aborted) passOn()
          else ctx.stop.addEventListener('abort', passOn, { once: true })
          const gauges = new SampledGauges()
          ctx.metrics.reporter.bindGauges(database, gauges)
          child.on('message', (m: FromChild) => {
            if (m.progress !== undefined) counters.submitted += m.progress
            if (m.committed !== undefined) counters.committed += m.committed
            if (m.gauges !== undefined) gauges.update(...m.gauges)
            if (m.call !== undefined) replay(ctx.metrics.reporter, m.call)
            if (m.done) message = m.done
          })
          child.on('exit', (code) => {
            ctx.stop.removeEventListener('abort', passOn)
            ctx.metrics.reporter.unbindGauges?.(gauges)
            if (message) return resolve(message)
            // The scenario cannot be verified without this process's rows: stop the others.
            for (const c of children) if (c !== child && c.exitCode === null) c.kill('SIGTERM')
            reject(new Error(`producer process exited with code ${code}`))
          })
        }),
    ),
  ).then((settled) => {
    const failed = settled.find((s) => s.status === 'rejected')
    if (failed) throw failed.reason
    const messages = settled.map((s) => (s as PromiseFulfilledResult<ChildMessage>).value)
    const total = emptyResult(scenario.workers, Number.POSITIVE_INFINITY)
    for (const { result: r, latencies: l } of messages) {
      r.submittedPerWorker.forEach((v, i) => {
        total.submittedPerWorker[i]! += v
      })
      total.poisonSubmitted += r.poisonSubmitted
      total.poisonReported += r.poisonReported
      total.poisonCommitted += r.poisonCommitted
      total.unexpectedFailures += r.unexpectedFailures
      for (const id of r.inDoubtIds) total.inDoubtIds.push(id)
      for (const id of r.failedIds) total.failedIds.push(id)
      total.closeProblems.push(...r.closeProblems)
      for (const [k, v] of Object.entries(r.failuresByReason))
        total.failuresByReason[k] = (total.failuresByReason[k] ?? 0) + v
      for (const [k, v] of Object.entries(r.reportedFailures))
        total.reportedFailures[k] = (total.reportedFailures[k] ?? 0) + v
      total.firstSubmitAt = Math.min(total.firstSubmitAt, r.firstSubmitAt)
      total.lastSubmitAt = Math.max(total.lastSubmitAt, r.lastSubmitAt)
      latencies.merge(l)
    }
    return total
  })
}

/** A scenario that ran, but whose table could not be read back to verify it. */
export class UnverifiedError extends Error {}

/**
 * Runs one scenario on one database. If it cannot finish (a producer process died), its table
 * is still dropped (unless KEEP_TABLES) before the error goes up.
 */
export async function runScenario(
  ctx: RunContext,
  backend: Backend,
  scenario: Scenario,
): Promise<ScenarioResult> {
  try {
    return await runScenarioOnce(ctx, backend, scenario)
  } catch (err) {
    if (!ctx.config.keepTables) await backend.dropTable(tableOf(scenario)).catch(() => {})
    throw err
  }
}

const tableOf = (scenario: Scenario) => `batchsql_${scenario.name}`

async function runScenarioOnce(
  ctx: RunContext,
  backend: Backend,
  scenario: Scenario,
): Promise<ScenarioResult> {
  const { metrics, progress, config } = ctx
  const table = tableOf(scenario)
  const testCase = scenario.name
  metrics.setCurrentTestCase(testCase)
  metrics.declareTable(backend.name, table)
  const tableOptions = { keyless: scenario.keyless === true }
  // Meanwhile Prometheus, if it scrapes us, sees the table's counters at 0 (ScrapeWatch).
  const scraped = metrics.scrapedOnce()
  await backend.createTable(table, tableOptions)
  const poisonIds: number[] = []
  if (scenario.isPoison) {
    for (let w = 0; w < scenario.workers; w++) {
      for (let s = 0; s < scenario.perWorker; s++)
        if (scenario.isPoison(w, s)) poisonIds.push(scenario.row(w, s).id)
    }
    await backend.preparePoison?.(table, poisonIds)
  }
  const schema = backend.schema(table, scenario.strategy, tableOptions)
  await unlessAborted(scraped, ctx.stop, () => {})
  collectGarbage()
  const counters: ProducerCounters = { submitted: 0, committed: 0, settled: 0 }
  const latencies = new LatencyRecorder()
  const gc = new GcCounter().start()
  const startRss = process.memoryUsage().rss
  let peakRss = startRss
  let peakHeap = process.memoryUsage().heapUsed
  const timeline: TimelinePoint[] = []
  const started = performance.now()
  const total = scenario.workers * scenario.perWorker
  progress.start(`${backend.name}/${scenario.name}`, total)
  let lastSubmitted = 0
  let lastCommitted = 0
  let lastAt = started
  const sample = () => {
    const now = performance.now()
    const dt = (now - lastAt) / 1000
    const mem = process.memoryUsage()
    peakRss = Math.max(peakRss, mem.rss)
    peakHeap = Math.max(peakHeap, mem.heapUsed)
    const point: TimelinePoint = {
      t: Math.round((now - started) / 100) / 10,
      submitRps: dt > 0 ? Math.round((counters.submitted - lastSubmitted) / dt) : 0,
      commitRps: dt > 0 ? Math.round((counters.committed - lastCommitted) / dt) : 0,
      rssMB: mb(mem.rss),
      heapUsedMB: mb(mem.heapUsed),
    }
    timeline.push(point)
    lastSubmitted = counters.submitted
    lastCommitted = counters.committed
    lastAt = now
    metrics.recordRealTimeMetrics(backend.name, testCase, point.commitRps, point.rssMB)
    progress.update(counters.submitted, counters.committed, point)
  }
  const timer = setInterval(sample, 1000)

  let fault = null as string | null
  /** Set when the fault scenario could not do what it is for. */
  let faultProblem: string | undefined
  let faultDone: Promise<void> = Promise.resolve()
  const holdAt =
    scenario.faultAt === undefined
      ? total
      : Math.max(Math.floor(total * scenario.faultAt), Math.floor(total * 0.9))
  const useChildren = config.processes > 1 && scenario.faultAt === undefined
  let pipeline: ReturnType<Backend['pipeline']> | undefined
  let result: ProducerResult
  const deadline = scenario.pace ? Date.now() + scenario.pace.maxMs : undefined
  try {
    if (useChildren) {
      result = await runInChildren(ctx, backend, scenario, table, counters, latencies)
    } else {
      pipeline = backend.pipeline({
        flushSize: scenario.flushSize,
        bufferSize: scenario.bufferSize,
        flushInterval: scenario.flushInterval,
        retry: scenario.retry,
        metrics: metrics.reporter,
      })
      if (scenario.faultAt !== undefined) {
        const live = pipeline
        const at = Math.floor(total * scenario.faultAt)
        faultDone = untilFaultPoint({
          at,
          holdAt,
          patienceMs: faultPatienceMs(scenario),
          submitted: () => counters.submitted,
          // Committed, not submitted: by then the pipeline has live connections to drop. The
          // pipeline's own count, the same whichever way rows are fed.
          progress: () => live.stats(),
          stop: ctx.stop,
        }).then(async (point) => {
          if (!point.reached) {
            fault = `not injected: ${point.why}`
            if (point.failed) faultProblem = `the fault was ${fault}`
            return
          }
          try {
            fault = await backend.injectFault()
          } catch (err) {
            fault = `fault injection failed: ${(err as Error).message}`
            faultProblem = fault
          }
        })
      }
      result = await produce({
        backend,
        pipeline,
        schema,
        table,
        scenario,
        workers: Array.from({ length: scenario.workers }, (_, i) => i),
        counters,
        latencies,
        deadline,
        stop: ctx.stop,
        // The fault waits for 30% committed; should the run be fast enough to submit 90%
        // before that, producers wait for it, so that rows are still written after the fault.
        hold: scenario.faultAt === undefined ? undefined : { at: holdAt, until: faultDone },
      })
    }
  } finally {
    clearInterval(timer)
  }
  await faultDone
  const closedAt = Date.now()
  sample()
  gc.stop()
  const submitted = result.submittedPerWorker.reduce((a, b) => a + b, 0)
  let verification: Verification
  try {
    verification = await verify(
      expectedDigests(scenario, result.submittedPerWorker),
      backend,
      table,
      new Set(result.inDoubtIds.map(String)),
      new Set(result.failedIds.map(String)),
    )
  } catch (err) {
    // The scenario ran, but its table cannot be read (the server went down): listed with the
    // scenarios that did not run, with what the pipeline reported, not as if it never ran.
    const reasons = Object.entries(result.failuresByReason)
      .map(([reason, n]) => `${n} ${reason}`)
      .join(', ')
    throw new UnverifiedError(
      `ran (${submitted} submitted, ${counters.committed} acknowledged committed, ${result.unexpectedFailures} good row(s) reported failed${reasons === '' ? '' : `: ${reasons}`}) but could not be verified: ${(err as Error).message}`,
      { cause: err },
    )
  }
  if (!config.keepTables) await backend.dropTable(table)

  const problems: string[] = []
  if (!intact(verification)) {
    problems.push(
      `integrity ${formatIntegrity(verification.integrityRate, 3)}%: ${verification.missingRows} missing, ${verification.wrongRows} wrong, ${verification.unexpectedRows} unexpected, ${verification.duplicateRows} duplicated`,
    )
  }
  if (result.unexpectedFailures > 0)
    problems.push(`${result.unexpectedFailures} good row(s) failed`)
  // The pipeline's promise: a row reported failed (not of unknown outcome) was not written.
  if (verification.failedFound > 0)
    problems.push(`${verification.failedFound} row(s) reported failed are in the table`)
  problems.push(...result.closeProblems)
  if (result.poisonReported !== result.poisonSubmitted) {
    problems.push(
      `${result.poisonSubmitted} poison row(s) submitted, ${result.poisonReported} reported`,
    )
  }
  // Acknowledged as written although the database must refuse it (a NOT NULL violation).
  if (result.poisonCommitted > 0)
    problems.push(`${result.poisonCommitted} poison row(s) acknowledged as written`)
  if (faultProblem !== undefined) problems.push(faultProblem)
  else if (scenario.faultAt !== undefined && fault === null)
    problems.push('the fault was never injected')
  if (scenario.pace === undefined && submitted !== total)
    problems.push(`${total - submitted} row(s) were never submitted`)
  // A paced scenario may stop early (TEST_DURATION), but one that wrote nothing tested nothing.
  if (scenario.pace !== undefined && total > 0 && verification.foundRows === 0)
    problems.push(
      `no row was written (${submitted} of ${total} submitted within ${scenario.pace.maxMs / 1000} s)`,
    )
  const firstSubmit = result.firstSubmitAt
  const submitSeconds = Math.max(0.001, (result.lastSubmitAt - firstSubmit) / 1000)
  const persistSeconds = Math.max(0.001, (closedAt - firstSubmit) / 1000)
  const passed = problems.length === 0
  const out: ScenarioResult = {
    database: backend.name,
    scenario: scenario.name,
    description: scenario.description,
    strategy: scenario.strategy,
    processes: useChildren ? Math.min(config.processes, scenario.workers) : 1,
    submitted,
    poisonSubmitted: result.poisonSubmitted,
    poisonReported: result.poisonReported,
    unexpectedFailures: result.unexpectedFailures,
    failuresByReason: result.failuresByReason,
    reportedFailures: result.reportedFailures,
    verification,
    submitRate: Math.round(submitted / submitSeconds),
    persistedRate:
      verification.integrityRate === 100 ? Math.round(counters.committed / persistSeconds) : null,
    durationSeconds: Math.round((performance.now() - started) / 100) / 10,
    latencyMs: latencies.summary(),
    memory: {
      startRssMB: mb(startRss),
      peakRssMB: mb(peakRss),
      peakHeapUsedMB: mb(peakHeap),
      endRssMB: mb(process.memoryUsage().rss),
    },
    gc: { count: gc.count, pauseMs: Math.round(gc.pauseMs) },
    fault,
    timeline,
    passed,
    problems,
  }
  metrics.recordResult(out)
  progress.finish(out)
  return out
}
