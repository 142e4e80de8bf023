/**
 * The producers of one scenario: each submits its rows in order, awaiting only the buffer
 * (`accepted`), and tracks every row's commit on the side: latency on success, the error's
 * reason on failure. Runs in the main process or in a child process (`--processes`).
 */
import type { BatchSQL, Schema } from '@batchsql/core'
import type { Backend } from './backends/backend.js'
import { tallyFailures } from './failure-tally.js'
import type { Scenario } from './scenarios.js'
import type { LatencyRecorder } from './stats.js'

export interface ProducerCounters {
  submitted: number
  committed: number
  settled: number
}

export interface ProducerResult {
  /** Rows each worker submitted (index = worker), so the verifier knows what to expect. */
  submittedPerWorker: number[]
  poisonSubmitted: number
  /** Poison rows reported to their submitter with an error (they must all be). */
  poisonReported: number
  /** Poison rows that were reported committed (a constraint the database did not enforce). */
  poisonCommitted: number
  /** Good rows that failed: each is a lost row, reported. */
  unexpectedFailures: number
  /**
   * Ids of the rows reported `BATCHSQL_OUTCOME_UNKNOWN` (written or not, the pipeline cannot
   * know; never re-sent): the verifier accepts each once or not at all, and says how many were
   * there. Expected in a keyless fault scenario; in the others each is also an unexpected
   * failure (until 2026-11-29 only keyless scenarios kept them apart: elsewhere a written one
   * passed for a failed row).
   */
  inDoubtIds: number[]
  /**
   * Ids of the good rows reported failed for certain (not of unknown outcome): the verifier
   * checks that none of them is in the table (the pipeline's promise: failed means not written).
   */
  failedIds: number[]
  failuresByReason: Record<string, number>
  /**
   * Rows the pipeline reported failed on its `errors` stream, per reason: its own account of
   * every final failure (a `submitAndWait()` row's is also its rejection, counted above).
   */
  reportedFailures: Record<string, number>
  firstSubmitAt: number
  lastSubmitAt: number
  /**
   * What `close()` reported that does not add up (rows accepted but neither committed nor
   * failed, rows abandoned, a committed count other than the acknowledgements seen), and rows
   * whose acknowledgement never came: each a row lost without a report.
   */
  closeProblems: string[]
}

/** A result with nothing counted yet (the runner sums its children's into one from `+Infinity`). */
export function emptyResult(workers: number, firstSubmitAt: number): ProducerResult {
  return {
    submittedPerWorker: new Array(workers).fill(0),
    poisonSubmitted: 0,
    poisonReported: 0,
    poisonCommitted: 0,
    unexpectedFailures: 0,
    inDoubtIds: [],
    failedIds: [],
    failuresByReason: {},
    reportedFailures: {},
    firstSubmitAt,
    lastSubmitAt: 0,
    closeProblems: [],
  }
}

/**
 * How long the producers wait, after `close()` resolved, for the last acknowledgements. They
 * are settled before `close()` resolves; a row still unsettled after this is one the pipeline
 * lost track of, reported as a problem rather than waited for forever.
 */
const SETTLE_AFTER_CLOSE_MS = 10_000

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * Producers give the event loop a turn this often. Why: a service's producers get their rows
 * through I/O and so let timers and sockets run; these loops would not when nothing in the
 * pipeline waits on I/O (SQLite writes synchronously), and /metrics, the progress line and
 * the memory and GC sampling would starve for a whole scenario.
 */
const YIELD_EVERY_MS = 10

/**
 * How often the committed count of the fed-and-forgotten paths (`submit`, `submitMany`) is
 * read from the pipeline. Why: they have no per-row acknowledgement, and without it the live
 * rows/s stayed 0 until `close()` credited every row at once (a spike in the last sample).
 */
const COMMITTED_EVERY_MS = 100

export async function produce(options: {
  backend: Backend
  pipeline: BatchSQL
  schema: Schema<any>
  table: string
  scenario: Scenario
  workers: readonly number[]
  counters: ProducerCounters
  latencies: LatencyRecorder
  /** Producers stop submitting after this instant (epoch ms). */
  deadline?: number
  /** Producers stop submitting when it aborts (Ctrl-C); what they submitted is still settled. */
  stop?: AbortSignal
  /**
   * Producers wait for `until` once `at` rows were submitted in total. The fault scenario uses
   * it so that a fast run cannot finish (and close its connections) before the fault lands.
   */
  hold?: { at: number; until: Promise<void> }
}): Promise<ProducerResult> {
  const { backend, pipeline, schema, table, scenario, workers, counters, latencies } = options
  const result = emptyResult(scenario.workers, Date.now())
  let allSettled: () => void = () => {}
  const settledAll = new Promise<void>((r) => {
    allSettled = r
  })
  let producing = true
  let committedHere = 0
  const many = scenario.feed === 'submitMany'
  // No acknowledgement per row: what was not written is in close()'s account.
  const buffered = scenario.feed === 'submit' || many
  const chunkSize = Math.max(1, scenario.manyChunk ?? 1)
  const countReason = (err: { reason?: string; code?: string } | undefined, rows = 1) => {
    const reason = err?.reason ?? err?.code ?? 'unknown'
    result.failuresByReason[reason] = (result.failuresByReason[reason] ?? 0) + rows
  }
  // Buffered rows have no acknowledgement: the `errors` stream says which of them failed. A
  // poison row is expected to, as is (keyless) a row whose write may have landed: the
  // verifier accepts the latter once or not at all, as for a rejected acknowledgement.
  const poisonIds = new Set<number>()
  let expectedFailures = 0
  const tally = tallyFailures(pipeline, (f) => {
    if (!buffered) return
    for (const r of f.rows) {
      const id = backend.idOf(r.toObject())
      if (poisonIds.has(id)) {
        result.poisonReported++
        expectedFailures++
      } else if (f.error.code === 'BATCHSQL_OUTCOME_UNKNOWN') {
        result.inDoubtIds.push(id)
        if (scenario.keyless) expectedFailures++
      } else result.failedIds.push(id)
    }
  })
  let seenCommitted = 0
  const syncCommitted = () => {
    const now = pipeline.stats().committed
    counters.committed += now - seenCommitted
    seenCommitted = now
  }
  // Unref'd: a producer that throws must not leave a timer keeping the process alive.
  const committedTimer = buffered
    ? setInterval(syncCommitted, COMMITTED_EVERY_MS).unref()
    : undefined
  const settle = () => {
    counters.settled++
    if (!producing && counters.settled === counters.submitted) allSettled()
  }
  let held = options.hold
  void held?.until.then(() => {
    held = undefined
  })
  const perWorkerRate = scenario.pace ? scenario.pace.rowsPerSecond / scenario.workers : 0
  const started = performance.now()
  let lastTurn = started

  /** Hands a submitMany() chunk over; rows it did not accept are counted failed. */
  const handOver = async (w: number, chunk: Record<string, unknown>[], poison: number[]) => {
    let accepted = chunk.length
    // Known before the rows are handed over: their failure may be reported at once.
    for (const i of poison) poisonIds.add(backend.idOf(chunk[i]!))
    try {
      await pipeline.submitMany(schema, chunk)
    } catch (err) {
      const e = err as { code?: string; acceptedRows?: number }
      accepted = e.acceptedRows ?? 0
      // Counted per row, as everywhere else.
      countReason(e, chunk.length - accepted)
      result.unexpectedFailures += chunk.length - accepted
    }
    counters.submitted += accepted
    result.submittedPerWorker[w]! += accepted
    for (const i of poison) {
      if (i < accepted) result.poisonSubmitted++
      else poisonIds.delete(backend.idOf(chunk[i]!))
    }
    chunk.length = 0
    poison.length = 0
  }

  const worker = async (w: number) => {
    const chunk: Record<string, unknown>[] = []
    /** Indexes of the poison rows in `chunk`. */
    const chunkPoison: number[] = []
    for (let seq = 0; seq < scenario.perWorker; seq++) {
      if (options.deadline !== undefined && Date.now() >= options.deadline) break
      if (options.stop?.aborted) break
      if (held !== undefined && counters.submitted >= held.at) await held.until
      if (perWorkerRate > 0) {
        const due = started + (seq / perWorkerRate) * 1000
        const wait = due - performance.now()
        if (wait > 1) await sleep(wait)
      }
      const poison = scenario.isPoison?.(w, seq) ?? false
      let row = scenario.row(w, seq)
      if (poison) row = backend.poison(row)
      let t0 = performance.now()
      if (t0 - lastTurn >= YIELD_EVERY_MS) {
        await new Promise((r) => setImmediate(r))
        t0 = lastTurn = performance.now()
      }
      if (many) {
        if (poison) chunkPoison.push(chunk.length)
        chunk.push(backend.toSubmit(table, row))
        if (chunk.length === chunkSize) await handOver(w, chunk, chunkPoison)
        continue
      }
      if (buffered) {
        // Known before the row is handed over: its failure may be reported at once.
        if (poison) poisonIds.add(row.id)
        try {
          await pipeline.submit(schema, backend.toSubmit(table, row))
          counters.submitted++
          result.submittedPerWorker[w]!++
          if (poison) result.poisonSubmitted++
        } catch (err) {
          poisonIds.delete(row.id)
          countReason(err as { code?: string })
          result.unexpectedFailures++
        }
        continue
      }
      const ack = pipeline.submitAndWait(schema, backend.toSubmit(table, row))
      counters.submitted++
      if (poison) result.poisonSubmitted++
      ack.then(
        () => {
          committedHere++
          counters.committed++
          latencies.push(performance.now() - t0)
          if (poison) result.poisonCommitted++
          settle()
        },
        (err: { reason?: string; code?: string }) => {
          countReason(err)
          if (poison) result.poisonReported++
          else if (err?.code === 'BATCHSQL_OUTCOME_UNKNOWN') {
            result.inDoubtIds.push(row.id)
            if (!scenario.keyless) result.unexpectedFailures++
          } else {
            result.failedIds.push(row.id)
            result.unexpectedFailures++
          }
          settle()
        },
      )
      try {
        await ack.accepted
      } catch {
        // Rejected before it was buffered (closed / invalid): counted by the handler above.
      }
      result.submittedPerWorker[w]!++
    }
    if (chunk.length > 0) await handOver(w, chunk, chunkPoison)
  }
  await Promise.all(workers.map(worker))
  result.lastSubmitAt = Date.now()
  producing = false
  if (counters.settled === counters.submitted) allSettled()
  const closed = await pipeline.close().finally(() => clearInterval(committedTimer))
  // The stream ends with close(): every failure is in the tally now.
  await tally.done
  result.reportedFailures = tally.byReason
  if (buffered) {
    // Nothing settles row by row: close() is the acknowledgement of them all.
    counters.committed += closed.committed - seenCommitted
    counters.settled = counters.submitted
    result.unexpectedFailures += Math.max(0, closed.failed - expectedFailures)
    for (const [reason, rows] of Object.entries(tally.byReason))
      result.failuresByReason[reason] = (result.failuresByReason[reason] ?? 0) + rows
    allSettled()
  }
  let timer: NodeJS.Timeout | undefined
  const inTime = await Promise.race([
    settledAll.then(() => true),
    new Promise<boolean>((r) => {
      timer = setTimeout(() => r(false), SETTLE_AFTER_CLOSE_MS)
    }),
  ])
  clearTimeout(timer)
  const p = result.closeProblems
  if (!inTime) p.push(`${counters.submitted - counters.settled} row(s) never settled after close()`)
  if (closed.accepted !== closed.committed + closed.failed)
    p.push(
      `close(): ${closed.accepted} accepted, ${closed.committed} committed + ${closed.failed} failed`,
    )
  if (closed.abandonedRows > 0) p.push(`close(): ${closed.abandonedRows} row(s) abandoned`)
  // Every failed row must have been reported on `errors` (read above, so none dropped).
  const dropped = pipeline.stats().droppedErrors
  if (dropped > 0) p.push(`errors: ${dropped} failure(s) dropped unread`)
  if (tally.rows !== closed.failed)
    p.push(`close(): ${closed.failed} row(s) failed, ${tally.rows} reported on errors`)
  if (!buffered && closed.committed !== committedHere)
    p.push(`close(): ${closed.committed} committed, ${committedHere} acknowledged`)
  return result
}
