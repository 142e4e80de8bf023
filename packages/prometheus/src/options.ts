import { BatchSQLError } from '@batchsql/core'
import type { Registry } from 'prom-client'

export interface PrometheusMetricsOptions {
  /**
   * Where the metrics are registered. Default: a private registry, so two reporters (or two
   * copies of prom-client) never collide with "already registered". Pass prom-client's global
   * `register` (or your own) to expose them next to your application's metrics; two reporters
   * on one shared registry with one prefix share its metrics (so they must give the same
   * constant label names and buckets: `BATCHSQL_INVALID_CONFIG` otherwise).
   */
  registry?: Registry | undefined
  /** Metric name prefix. Default `batchsql_`. */
  prefix?: string | undefined
  /** Constant labels added to every BatchSQL metric (e.g. `{ service: 'ingest' }`). */
  labels?: Readonly<Record<string, string>> | undefined
  /** Histogram buckets. */
  buckets?:
    | {
        /** Batch execution duration and key-order wait (behind whole batches), seconds. */
        duration?: number[] | undefined
        /** Rows per batch and per flush. */
        size?: number[] | undefined
        /** Enqueue latency, queue wait and assemble duration, seconds. */
        latency?: number[] | undefined
      }
    | undefined
  /**
   * Keep the `table` label. Default true. With `false` it is always `_all`: use it when table
   * names are unbounded (per-tenant tables), so the series count stays bounded.
   */
  tableLabel?: boolean | undefined
  /** Also collect prom-client's default Node.js process metrics (with the same prefix). Default false. */
  defaultMetrics?: boolean | undefined
}

// histogram_quantile() interpolates linearly inside a bucket, so a cluster of observations
// just above a bound reads as near the next bound: with only 0.1 and 0.25, the queue wait of
// interval flushes (just over the default flushInterval of 100 ms) read as a p95 of 0.24 s.
// Hence the finer steps around 0.1 s (latency) and between the decades of the duration.
export const DEFAULT_BUCKETS = {
  // Past the default 30 s attempt timeout: a batch's time includes its retries and backoff.
  duration: [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.5, 1, 1.5, 2, 2.5, 5, 10, 30,
    60, 120, 300,
  ],
  size: [1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 50000, 100000],
  // Up to 30 s: rows held behind a table that cannot keep up wait seconds (queue wait), and
  // so do submits under backpressure (enqueue latency).
  latency: [
    0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.11, 0.125, 0.15, 0.2,
    0.25, 0.5, 1, 2.5, 5, 10, 30,
  ],
}

/** What `recordTestResult` takes: the outcome of one test case of the integration app. */
export interface TestResult {
  durationSeconds: number
  /** Rows expected in the database, and found there. */
  expected: number
  found: number
  submitted?: number
  /** Rows reported failed with a known outcome (not written). */
  failed?: number
  /** Rows reported of unknown outcome (`BATCHSQL_OUTCOME_UNKNOWN`): some may be among `found`. */
  outcomeUnknown?: number
  /** Persisted rows per second. */
  rps: number
  success: boolean
  /** Percent, 0–100. */
  integrityRate: number
  memory?: { rssMB: number; heapUsedMB: number; heapTotalMB?: number; externalMB?: number }
  gcCount?: number
}

const OPTION_KEYS: ReadonlySet<string> = new Set([
  'registry',
  'prefix',
  'labels',
  'buckets',
  'tableLabel',
  'defaultMetrics',
] satisfies (keyof PrometheusMetricsOptions)[])
const BUCKET_KEYS: ReadonlySet<string> = new Set(Object.keys(DEFAULT_BUCKETS))
// Prometheus' data model: metric names may hold colons, label names may not; names starting
// with `__` are reserved.
const METRIC_PREFIX = /^(?:[a-zA-Z_:][a-zA-Z0-9_:]*)?$/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/
// Histogram buckets and summary quantiles carry these themselves (prom-client refuses `le`).
const RESERVED_LABELS: ReadonlySet<string> = new Set(['le', 'quantile'])

/**
 * Refuses options that would be ignored (a misspelt key) or that prom-client would refuse later
 * with a plain `Error` (an invalid name), as `BATCHSQL_INVALID_CONFIG`, like every other
 * BatchSQL option.
 */
export function checkOptions(options: PrometheusMetricsOptions): void {
  const bad = (message: string) => new BatchSQLError('BATCHSQL_INVALID_CONFIG', message)
  if (typeof options !== 'object' || options === null) throw bad('options must be an object')
  for (const key of Object.keys(options))
    if (!OPTION_KEYS.has(key)) throw bad(`unknown option "${key}" (${[...OPTION_KEYS].join(', ')})`)
  const { prefix, labels, buckets, tableLabel, defaultMetrics } = options
  if (prefix !== undefined && (typeof prefix !== 'string' || !METRIC_PREFIX.test(prefix)))
    throw bad('prefix must be a valid start of a Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)')
  if (labels !== undefined) {
    if (typeof labels !== 'object' || labels === null) throw bad('labels must be an object')
    for (const [name, value] of Object.entries(labels)) {
      if (!LABEL_NAME.test(name) || name.startsWith('__') || RESERVED_LABELS.has(name))
        throw bad(`labels: "${name}" is not a valid Prometheus label name`)
      if (typeof value !== 'string') throw bad(`labels: the value of "${name}" must be a string`)
    }
  }
  if (buckets !== undefined) {
    if (typeof buckets !== 'object' || buckets === null) throw bad('buckets must be an object')
    for (const [key, list] of Object.entries(buckets)) {
      if (!BUCKET_KEYS.has(key))
        throw bad(`unknown buckets option "${key}" (${[...BUCKET_KEYS].join(', ')})`)
      if (
        list !== undefined &&
        (!Array.isArray(list) ||
          list.length === 0 ||
          list.some((v, i) => !Number.isFinite(v) || (i > 0 && v <= list[i - 1]!)))
      )
        throw bad(`buckets.${key} must be a non-empty list of finite, increasing numbers`)
    }
  }
  for (const [key, v] of [
    ['tableLabel', tableLabel],
    ['defaultMetrics', defaultMetrics],
  ] as const)
    if (v !== undefined && typeof v !== 'boolean') throw bad(`${key} must be true or false`)
}
