/**
 * The scenarios every database runs. Each writes a deterministic set of rows, so the
 * verifier knows exactly what must be in the table afterwards.
 */
import type { Strategy } from './backends/backend.js'
import type { AppConfig } from './config.js'
import { type AppRow, makeRow } from './rows.js'

export interface Scenario {
  readonly name: string
  readonly description: string
  readonly strategy: Strategy
  readonly workers: number
  readonly perWorker: number
  readonly flushSize: number
  readonly bufferSize: number
  readonly flushInterval: number
  /** Row `seq` of producer `worker` (may set only some columns). */
  row(worker: number, seq: number): AppRow
  /** Rows the database must reject; each must be reported, none written. */
  isPoison?(worker: number, seq: number): boolean
  /** Inject the backend's fault once this share of the rows is submitted. */
  readonly faultAt?: number
  /** Producers pace themselves to this many rows/s in total, and stop at `maxMs`. */
  readonly pace?: { rowsPerSecond: number; maxMs: number }
  readonly retry?: { maxAttempts?: number; initialDelayMs?: number; maxDelayMs?: number }
  /**
   * How producers hand rows over: `submitAndWait` (default: each row's commit tracked, latency
   * measured), `submit` (fire and forget, the buffered path most services use: no per-row
   * acknowledgement, so no latency figures; committed and failed rows come from `close()`) or
   * `submitMany` (as `submit`, `manyChunk` rows a call: a consumer that receives messages in
   * batches).
   */
  readonly feed?: 'submitAndWait' | 'submit' | 'submitMany'
  readonly manyChunk?: number
  /**
   * The table has no unique key (Redis: rows are appended to lists), so a write sent twice is
   * stored twice. A row whose write may or may not have landed must be reported to its
   * submitter as `BATCHSQL_OUTCOME_UNKNOWN`; it may be found once or not at all, never twice.
   */
  readonly keyless?: boolean
}

export function buildScenarios(c: AppConfig): Scenario[] {
  const base = {
    workers: c.concurrentWorkers,
    perWorker: c.recordsPerWorker,
    flushSize: c.batchSize,
    bufferSize: c.bufferSize,
    flushInterval: c.flushIntervalMs,
  }
  const unique = (perWorker: number) => (worker: number, seq: number) =>
    makeRow(worker * perWorker + seq, worker, seq)
  const heavyWorkers = c.concurrentWorkers * 5
  // One more than a fifth: with the default sizes the last flush is then partial (50 x 2,001
  // rows), so close() must flush a tail, or the verifier finds it missing.
  const heavyPer = Math.max(1, Math.ceil(c.recordsPerWorker / 5)) + 1
  const memoryPer = Math.ceil(250_000 / c.concurrentWorkers)
  const longPer = Math.max(1, Math.ceil(c.longDurationRecords / c.concurrentWorkers))
  const keys = Math.max(50, Math.floor(c.recordsPerWorker / 4))
  // Upserts: each producer owns its keys (so the final state is deterministic) and writes
  // every key twice in a row, the second time partially: in-batch duplicates on every flush.
  const upsertRow = (partial: boolean) => (worker: number, seq: number) => {
    const k = Math.floor(seq / 2) % keys
    const full = makeRow(worker * keys + k, worker, seq)
    if (!partial || seq % 2 === 0) return full
    return { id: full.id, payload: full.payload, amount: full.amount }
  }
  return [
    {
      ...base,
      name: 'high_throughput',
      description: 'producers submit as fast as they can',
      strategy: 'insert',
      row: unique(base.perWorker),
    },
    {
      ...base,
      name: 'concurrent_workers',
      description: `${heavyWorkers} concurrent producers`,
      strategy: 'insert',
      workers: heavyWorkers,
      perWorker: heavyPer,
      row: unique(heavyPer),
    },
    {
      ...base,
      name: 'large_batch',
      description: `flushes of 10x the batch size, rows handed over by submitMany() ${c.batchSize} at a time`,
      feed: 'submitMany',
      manyChunk: c.batchSize,
      strategy: 'insert',
      flushSize: c.batchSize * 10,
      bufferSize: Math.max(c.bufferSize, c.batchSize * 20),
      row: unique(base.perWorker),
    },
    {
      ...base,
      name: 'memory_pressure',
      feed: 'submit',
      description: `${memoryPer * c.concurrentWorkers} rows with 1 KiB payloads through a ${c.bufferSize}-row buffer, by plain submit()`,
      strategy: 'insert',
      perWorker: memoryPer,
      row: (w, s) => makeRow(w * memoryPer + s, w, s, 1024),
    },
    {
      ...base,
      name: 'long_duration',
      description: `paced producers, ${longPer * c.concurrentWorkers} rows or ${Math.round(c.testDurationMs / 1000)} s`,
      strategy: 'insert',
      perWorker: longPer,
      pace: { rowsPerSecond: 10_000, maxMs: c.testDurationMs },
      row: unique(longPer),
    },
    {
      ...base,
      name: 'upsert_update',
      description: `update strategy, ${keys} keys per producer, in-batch duplicates and partial rows`,
      strategy: 'update',
      row: upsertRow(true),
    },
    {
      ...base,
      name: 'upsert_replace',
      description: `replace strategy, ${keys} keys per producer, in-batch duplicates`,
      strategy: 'replace',
      row: upsertRow(false),
    },
    {
      ...base,
      name: 'fault',
      description:
        'connection dropped / database locked mid-run; idempotent writes (replace) are retried',
      strategy: 'replace',
      faultAt: 0.3,
      retry: { maxAttempts: 30, initialDelayMs: 50, maxDelayMs: 500 },
      row: unique(base.perWorker),
    },
    {
      ...base,
      name: 'fault_keyless',
      description:
        'connection dropped / database locked mid-run on a table without a unique key; a write that may have landed is reported, never re-sent',
      strategy: 'insert',
      keyless: true,
      faultAt: 0.3,
      retry: { maxAttempts: 30, initialDelayMs: 50, maxDelayMs: 500 },
      row: unique(base.perWorker),
    },
    {
      ...base,
      name: 'poison_rows',
      description: 'every 101st row violates a constraint; good rows must all commit',
      strategy: 'insert',
      row: unique(base.perWorker),
      isPoison: (w, s) => (w * base.perWorker + s) % 101 === 7,
    },
  ]
}
