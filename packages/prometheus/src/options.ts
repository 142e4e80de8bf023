import type { Registry } from 'prom-client'

export interface PrometheusMetricsOptions {
  /**
   * Where the metrics are registered. Default: a private registry, so two reporters (or two
   * copies of prom-client) never collide with "already registered". Pass prom-client's global
   * `register` (or your own) to expose them next to your application's metrics; two reporters
   * on one shared registry share its metrics.
   */
  registry?: Registry
  /** Metric name prefix. Default `batchsql_`. */
  prefix?: string
  /** Constant labels added to every BatchSQL metric (e.g. `{ service: 'ingest' }`). */
  labels?: Readonly<Record<string, string>>
  /** Histogram buckets. */
  buckets?: {
    /** Batch execution duration and key-order wait (behind whole batches), seconds. */
    duration?: number[]
    /** Rows per batch and per flush. */
    size?: number[]
    /** Enqueue latency, queue wait and assemble duration, seconds. */
    latency?: number[]
  }
  /**
   * Keep the `table` label. Default true. With `false` it is always `_all`: use it when table
   * names are unbounded (per-tenant tables), so the series count stays bounded.
   */
  tableLabel?: boolean
  /** Also collect prom-client's default Node.js process metrics (with the same prefix). Default false. */
  defaultMetrics?: boolean
}

export const DEFAULT_BUCKETS = {
  // Past the default 30 s attempt timeout: a batch's time includes its retries and backoff.
  duration: [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300,
  ],
  size: [1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 50000, 100000],
  latency: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
}

/** What `recordTestResult` takes: the outcome of one test case of the integration app. */
export interface TestResult {
  durationSeconds: number
  /** Rows expected in the database, and found there. */
  expected: number
  found: number
  submitted?: number
  failed?: number
  /** Persisted rows per second. */
  rps: number
  success: boolean
  /** Percent, 0–100. */
  integrityRate: number
  memory?: { rssMB: number; heapUsedMB: number; heapTotalMB?: number; externalMB?: number }
  gcCount?: number
}
