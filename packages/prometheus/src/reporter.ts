/**
 * The prom-client implementation of core's `MetricsReporter`, with the metric names of the
 * README's table. Everything is recorded per batch or per flush, never per row;
 * queue length and in-flight batches are read when Prometheus scrapes.
 */
import {
  type BatchMetrics,
  BatchSQLError,
  ERROR_REASONS,
  type MetricsReporter,
  type PipelineGauges,
  REJECT_REASONS,
  type RejectReason,
} from '@batchsql/core'
import {
  Counter,
  collectDefaultMetrics,
  Gauge,
  Histogram,
  type Metric,
  Registry,
} from 'prom-client'
import {
  checkOptions,
  DEFAULT_BUCKETS,
  type PrometheusMetricsOptions,
  type TestResult,
} from './options.js'
import { MetricsServer } from './server.js'

type Labels = Record<string, string | number>

/** A pipeline bound to a reporter, with the labels of its series (`database` and the reporter's constant labels). */
interface BoundPipeline {
  readonly series: string
  readonly labels: Labels
  readonly gauges: PipelineGauges
  /** The concurrency limit its pipeline set just before binding, when it did. */
  readonly limit: number | undefined
}

interface Bound {
  readonly pipelines: BoundPipeline[]
  /** Every series ever bound, by key: it stays, at 0, once its pipelines closed. */
  readonly series: Map<string, Labels>
  /** The last concurrency limit set per series. */
  readonly limits: Map<string, { readonly labels: Labels; readonly limit: number }>
}

/**
 * Pipelines bound to the reporters that share one `queue_length` gauge, i.e. one registry and
 * prefix (a registry holds one metric per name, and a second reporter on it reuses the first
 * one's metrics). Why not per reporter: the queue gauges' collect functions, the first
 * reporter's, must read every pipeline of them all, each with the constant labels of the
 * reporter that bound it. Keyed by the gauge, not by the registry: after `registry.clear()` a
 * new reporter registers new gauges, and must not inherit series whose label names it lacks.
 */
const boundByGauge = new WeakMap<Gauge, Bound>()

const sortedList = (xs: readonly number[]): string => [...xs].sort((a, b) => a - b).join(',')

/** One key per label set, whatever the order its names were given in. */
function seriesKey(labels: Labels): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
}

/**
 * A counter as an OpenMetrics registry must see it: named without `_total`, which that registry
 * appends to each sample. prom-client (15.1) strips the suffix by assigning `metric.name` on
 * every counter it renders as OpenMetrics; rendering the shared counter itself would rename it
 * for good, and every later Prometheus-format scrape would lose `_total`. Other metric types
 * are rendered unchanged, so they are shared as they are.
 */
function openMetricsView(metric: Metric): Metric {
  const m = metric as unknown as {
    type: string
    name: string
    help: string
    get(): Promise<object>
  }
  if (m.type !== 'counter') return metric
  const name = m.name.replace(/_total$/, '')
  const view = { type: m.type, name, help: m.help, get: async () => ({ ...(await m.get()), name }) }
  return view as unknown as Metric
}

const BATCH_STATUSES = [
  'success',
  'partial',
  'failure',
] as const satisfies readonly BatchMetrics['status'][]

/** Label names the reporter sets itself. */
const OWN_LABELS = new Set([
  'database',
  'table',
  'status',
  'test_case',
  'type',
  'error_type',
  'reason',
])

export class PrometheusMetrics implements MetricsReporter {
  /** The registry served in the Prometheus text format (yours, if you passed one). */
  readonly registry: Registry
  private readonly prefix: string
  private readonly constLabels: Labels
  private readonly constNames: string[]
  private readonly tableLabel: boolean
  private testCase = 'none'
  private readonly bound: Bound
  private server: MetricsServer | undefined
  /** The bind of the server being started, while it runs. */
  private starting: Promise<unknown> | undefined
  /** Tables declared or reported on under the current test case, per database, as the `table` label shows them. */
  private tablesOfCase = new Map<string, Set<string>>()
  /** Test case, database and table whose counters `declareTable` started at 0. */
  private readonly declared = new Set<string>()
  /**
   * Test case and database whose per-database histograms have a series: started at 0, or
   * observed first (a flush recorded before any batch declared its table).
   */
  private readonly databasesObserved = new Set<string>()

  private readonly batchDuration: Histogram
  private readonly batchTotal: Counter
  private readonly batchSize: Histogram
  private readonly records: Counter
  private readonly recordsFailed: Counter
  private readonly recordsUnknown: Counter
  private readonly recordsDeduplicated: Counter
  private readonly testDuration: Gauge
  private readonly testRecords: Gauge
  private readonly testRps: Gauge
  private readonly testSuccess: Gauge
  private readonly integrity: Gauge
  private readonly memory: Gauge
  private readonly gcCount: Gauge
  private readonly errors: Counter
  private readonly enqueueLatency: Histogram
  private readonly queueWait: Histogram
  private readonly flushSize: Histogram
  private readonly flushGroups: Histogram
  private readonly assemble: Histogram
  private readonly keyOrderWait: Histogram
  private readonly rejected: Counter
  private readonly dropped: Counter

  constructor(options: PrometheusMetricsOptions = {}) {
    checkOptions(options)
    this.registry = options.registry ?? new Registry()
    this.prefix = options.prefix ?? 'batchsql_'
    this.constLabels = { ...(options.labels ?? {}) }
    this.constNames = Object.keys(this.constLabels)
    // A constant label named like one of ours would overwrite it on every series, merging
    // what it tells apart (every pipeline's queue into one `database`, say).
    const taken = this.constNames.filter((n) => OWN_LABELS.has(n))
    if (taken.length > 0)
      throw new BatchSQLError(
        'BATCHSQL_INVALID_CONFIG',
        `labels: ${taken.join(', ')} ${taken.length === 1 ? 'is' : 'are'} BatchSQL's own label name(s); choose another`,
      )
    this.tableLabel = options.tableLabel ?? true
    // A key given as undefined keeps its default (spread, it would replace it with undefined).
    const b = { ...DEFAULT_BUCKETS }
    for (const [key, list] of Object.entries(options.buckets ?? {}))
      if (list !== undefined) b[key as keyof typeof b] = list
    const self = this

    this.batchDuration = this.histogram(
      'batch_execution_duration_seconds',
      'Batch execution time, retries included',
      ['database', 'table', 'status', 'test_case'],
      b.duration,
    )
    this.batchTotal = this.counter('batch_execution_total', 'Batches executed, by final status', [
      'database',
      'table',
      'status',
      'test_case',
    ])
    this.batchSize = this.histogram(
      'batch_size',
      'Rows per executed batch',
      ['database', 'table', 'test_case'],
      b.size,
    )
    this.records = this.counter('records_processed_total', 'Rows committed', [
      'database',
      'table',
      'test_case',
    ])
    this.recordsFailed = this.counter(
      'records_failed_total',
      'Rows the executor did not commit: failed for good, of unknown outcome (maybe written; also in records_outcome_unknown_total), or never sent before a close deadline. A batch a close deadline abandoned while running is counted by its real outcome once it ends (its rows were reported BATCHSQL_OUTCOME_UNKNOWN to the caller)',
      ['database', 'table', 'test_case'],
    )
    this.recordsUnknown = this.counter(
      'records_outcome_unknown_total',
      'Rows the executor reported BATCHSQL_OUTCOME_UNKNOWN: a reply was lost after sending, so they may have been written (counted in records_failed_total too). A batch a close deadline abandoned while running is counted by its real outcome once it ends',
      ['database', 'table', 'test_case'],
    )
    this.recordsDeduplicated = this.counter(
      'records_deduplicated_total',
      'Rows merged into another row of their batch with the same conflict key before writing (committed through it)',
      ['database', 'table', 'test_case'],
    )
    this.testDuration = this.gauge('test_duration_seconds', 'Duration of a test case', [
      'database',
      'test_case',
    ])
    this.testRecords = this.gauge(
      'test_records_total',
      'Rows of a test case by type (expected, found, submitted, failed)',
      ['database', 'test_case', 'type'],
    )
    this.testRps = this.gauge('test_rps', 'Rows persisted per second by a test case', [
      'database',
      'test_case',
    ])
    this.testSuccess = this.gauge('test_success', '1 if the test case passed, 0 if it failed', [
      'database',
      'test_case',
    ])
    this.integrity = this.gauge(
      'test_data_integrity_rate',
      'Rows verified in the database, percent of expected (0-100)',
      ['database', 'test_case'],
    )
    this.memory = this.gauge(
      'memory_usage_mb',
      'Process memory in MB by type (rss, heap_used, heap_total, external)',
      ['database', 'test_case', 'type'],
    )
    this.gcCount = this.gauge('gc_count', 'Garbage collections during a test case', [
      'database',
      'test_case',
    ])
    this.errors = this.counter(
      'errors_total',
      'Errors by type: retry:<reason> (will be retried) or final:<reason>',
      ['database', 'table', 'test_case', 'error_type'],
    )
    this.enqueueLatency = this.histogram(
      'enqueue_latency_seconds',
      'Time a submit waited for room in the buffer',
      ['database', 'test_case'],
      b.latency,
    )
    this.queueWait = this.histogram(
      'queue_wait_seconds',
      'Time rows waited in the buffer before their batch started (age of the oldest row of their flush; rows held behind a busy table: when they run)',
      ['database', 'test_case'],
      b.latency,
    )
    this.flushSize = this.histogram(
      'flush_size_rows',
      'Rows per flush',
      ['database', 'test_case'],
      b.size,
    )
    this.flushGroups = this.histogram(
      'flush_schema_groups',
      'Schema groups (batches) per flush',
      ['database', 'test_case'],
      [1, 2, 3, 5, 10, 20, 50],
    )
    this.assemble = this.histogram(
      'assemble_duration_seconds',
      'Time to split a flush into schema groups',
      ['database', 'test_case'],
      b.latency,
    )
    this.keyOrderWait = this.histogram(
      'key_order_wait_seconds',
      'Time a batch waited for earlier unfinished batches sharing a conflict key (batches that waited)',
      ['database', 'table', 'test_case'],
      // It waits behind whole batches, which can take as long as a batch does.
      b.duration,
    )
    const queue = this.gauge(
      'queue_length',
      'Rows buffered: waiting for a flush, or held behind a busy table (one with its limit of batches running)',
      ['database'],
      function collect(this: Gauge) {
        self.collectPerDatabase(this, (g) => g.queueLength())
      },
    )
    let bound = boundByGauge.get(queue)
    if (bound === undefined) {
      bound = { pipelines: [], series: new Map(), limits: new Map() }
      boundByGauge.set(queue, bound)
    }
    this.bound = bound
    this.gauge(
      'inflight_batches',
      'Batches dispatched and not finished: executing, in backoff, waiting for an executor slot or at the key-order gate',
      ['database'],
      function collect(this: Gauge) {
        self.collectPerDatabase(this, (g) => g.inFlightBatches())
      },
    )
    this.gauge(
      'executor_concurrency_limit',
      'Configured executor concurrency limit: the sum over the running pipelines of a database',
      ['database'],
      function collect(this: Gauge) {
        self.collectLimits(this)
      },
    )
    this.rejected = this.counter(
      'rejected_submits_total',
      'Submits rejected, by reason (closed, aborted, validation)',
      ['database', 'reason'],
    )
    this.dropped = this.counter(
      'dropped_errors_total',
      'Error events dropped because the error stream buffer was full',
      ['database'],
    )

    for (const metric of this.created) this.registry.registerMetric(metric)
    // Once per registry and prefix: a second reporter would register them twice (prom-client throws).
    if (
      options.defaultMetrics &&
      !this.registry.getSingleMetric(`${this.prefix}process_cpu_user_seconds_total`)
    ) {
      collectDefaultMetrics({
        register: this.registry,
        prefix: this.prefix,
        labels: this.constLabels,
      })
    }
  }

  // --- registration ---------------------------------------------------------------------

  /**
   * The metric of that name a shared registry already holds (a second reporter on it): shared,
   * if it has the label names (and buckets) this reporter would give it. If not, every
   * observation of this reporter would be refused by prom-client, and silently dropped.
   */
  private existing<T extends Metric>(
    name: string,
    labelNames: readonly string[],
    buckets?: readonly number[],
  ): T | undefined {
    const found = this.registry.getSingleMetric(this.prefix + name)
    if (found === undefined) return undefined
    const has = found as unknown as {
      labelNames?: readonly string[]
      upperBounds?: readonly number[]
    }
    const want = [...labelNames, ...this.constNames].sort()
    const got = [...(has.labelNames ?? [])].sort()
    if (want.join(',') !== got.join(','))
      throw new BatchSQLError(
        'BATCHSQL_INVALID_CONFIG',
        `the registry already has ${this.prefix + name} with the labels [${got.join(', ')}], not [${want.join(', ')}]: reporters sharing a registry and prefix need the same constant label names (or another prefix)`,
      )
    if (
      buckets !== undefined &&
      has.upperBounds !== undefined &&
      sortedList(buckets) !== sortedList(has.upperBounds)
    )
      throw new BatchSQLError(
        'BATCHSQL_INVALID_CONFIG',
        `the registry already has ${this.prefix + name} with the buckets [${has.upperBounds.join(', ')}], not [${buckets.join(', ')}]: reporters sharing a registry and prefix need the same buckets (or another prefix)`,
      )
    return found as T
  }

  /**
   * Metrics are created unregistered and registered together at the end of the constructor:
   * a constructor that throws half way (a label prom-client refuses, a metric a shared
   * registry holds with other labels) must leave nothing in the registry, or a later, correct
   * reporter on it would find a half set of metrics with the wrong labels.
   */
  private readonly created: Metric[] = []

  private fresh<T extends Metric>(metric: T): T {
    this.created.push(metric)
    return metric
  }

  private counter(name: string, help: string, labelNames: string[]): Counter {
    return (
      this.existing<Counter>(name, labelNames) ??
      this.fresh(
        new Counter({
          name: this.prefix + name,
          help,
          labelNames: [...labelNames, ...this.constNames],
          registers: [],
        }),
      )
    )
  }

  private gauge(
    name: string,
    help: string,
    labelNames: string[],
    collect?: (this: Gauge) => void,
  ): Gauge {
    return (
      this.existing<Gauge>(name, labelNames) ??
      this.fresh(
        new Gauge({
          name: this.prefix + name,
          help,
          labelNames: [...labelNames, ...this.constNames],
          registers: [],
          collect,
        }),
      )
    )
  }

  private histogram(
    name: string,
    help: string,
    labelNames: string[],
    buckets: number[],
  ): Histogram {
    return (
      this.existing<Histogram>(name, labelNames, buckets) ??
      this.fresh(
        new Histogram({
          name: this.prefix + name,
          help,
          labelNames: [...labelNames, ...this.constNames],
          buckets,
          registers: [],
        }),
      )
    )
  }

  private labels(l: Labels): Labels {
    return this.constNames.length === 0 ? l : { ...l, ...this.constLabels }
  }

  private table(t: string): string {
    return this.tableLabel ? t : '_all'
  }

  // --- core MetricsReporter ----------------------------------------------------------------

  recordEnqueueLatency(seconds: number, database: string): void {
    this.enqueueLatency.observe(this.perDatabase(database), seconds)
  }

  recordQueueWait(seconds: number, database: string): void {
    this.queueWait.observe(this.perDatabase(database), seconds)
  }

  recordFlush(rows: number, schemaGroups: number, database: string): void {
    const l = this.perDatabase(database)
    this.flushSize.observe(l, rows)
    this.flushGroups.observe(l, schemaGroups)
  }

  recordAssembleDuration(seconds: number, database: string): void {
    this.assemble.observe(this.perDatabase(database), seconds)
  }

  /** The labels of a per-database histogram's series, which from now on is not zeroed. */
  private perDatabase(database: string): Labels {
    this.databasesObserved.add(this.databaseKey(database))
    return this.labels({ database, test_case: this.testCase })
  }

  /** `databasesObserved`'s key of `database` under the current test case. */
  private databaseKey(database: string): string {
    return `${this.testCase}\u0000${database}`
  }

  recordKeyOrderWait(database: string, table: string, seconds: number): void {
    this.keyOrderWait.observe(
      this.labels({ database, table: this.table(table), test_case: this.testCase }),
      seconds,
    )
  }

  recordBatch(m: BatchMetrics): void {
    this.declareTable(m.database, m.table)
    const table = this.table(m.table)
    const withStatus = this.labels({
      database: m.database,
      table,
      status: m.status,
      test_case: this.testCase,
    })
    this.batchDuration.observe(withStatus, m.durationSeconds)
    this.batchTotal.inc(withStatus)
    const l = this.labels({ database: m.database, table, test_case: this.testCase })
    this.batchSize.observe(l, m.rows)
    if (m.committed > 0) this.records.inc(l, m.committed)
    if (m.rows > m.committed) this.recordsFailed.inc(l, m.rows - m.committed)
    if (m.outcomeUnknown) this.recordsUnknown.inc(l, m.outcomeUnknown)
    if (m.deduplicated) this.recordsDeduplicated.inc(l, m.deduplicated)
  }

  recordError(database: string, table: string, errorType: string): void {
    this.declareTable(database, table)
    this.errors.inc(
      this.labels({
        database,
        table: this.table(table),
        test_case: this.testCase,
        error_type: errorType,
      }),
    )
  }

  recordRejectedSubmit(reason: RejectReason, database: string): void {
    this.rejected.inc(this.labels({ database, reason }))
  }

  recordDroppedErrors(count: number, database: string): void {
    this.dropped.inc(this.labels({ database }), count)
  }

  setConcurrencyLimit(database: string, limit: number): void {
    const labels = this.labels({ database })
    this.bound.limits.set(seriesKey(labels), { labels, limit })
  }

  bindGauges(database: string, gauges: PipelineGauges): void {
    const labels = this.labels({ database })
    const series = seriesKey(labels)
    // The pipeline sets its limit just before it binds (core does): that limit is this one's.
    const limit = this.bound.limits.get(series)?.limit
    this.bound.pipelines.push({ series, labels, gauges, limit })
    this.bound.series.set(series, labels)
    // A labelled counter has no series until its first increment: start this one at 0, so
    // that `increase()` over a pipeline's life sees its first dropped error.
    this.dropped.inc(labels, 0)
    for (const reason of REJECT_REASONS) this.rejected.inc(this.labels({ database, reason }), 0)
    if (!this.tableLabel) this.declareTable(database, '_all')
  }

  /**
   * Starts every per-table counter of `table` at 0 under the current test case: rows
   * (processed, failed, unknown, deduplicated), batches per status, errors per reason, retry
   * and final. A labelled counter has no series until its first increment, and `rate()` and
   * `increase()` cannot count the value a series first appears with: without this, a table's
   * first batch, or the only error of its kind, would not show on a dashboard. BatchSQL calls
   * it for every table it reports on, and again for those of the test case that ends when
   * `setCurrentTestCase()` starts another; call it yourself, before the first rows, for
   * tables whose very first batch must count too.
   */
  declareTable(database: string, table: string): void {
    const t = this.table(table)
    let tables = this.tablesOfCase.get(database)
    if (tables === undefined) {
      tables = new Set()
      this.tablesOfCase.set(database, tables)
    }
    tables.add(t)
    this.startSeries(database, t)
  }

  /** Creates the per-table counter series of `table` (a label value) under the current test case, at 0. */
  private startSeries(database: string, t: string): void {
    const key = `${this.testCase}\u0000${database}\u0000${t}`
    if (this.declared.has(key)) return
    this.declared.add(key)
    const l = this.labels({ database, table: t, test_case: this.testCase })
    for (const c of [
      this.records,
      this.recordsFailed,
      this.recordsUnknown,
      this.recordsDeduplicated,
    ])
      c.inc(l, 0)
    for (const status of BATCH_STATUSES) {
      this.batchTotal.inc({ ...l, status }, 0)
      this.batchDuration.zero({ ...l, status })
    }
    for (const reason of ERROR_REASONS)
      for (const when of ['retry', 'final'])
        this.errors.inc({ ...l, error_type: `${when}:${reason}` }, 0)
    // Histograms too: their `rate()` of buckets, `_sum` and `_count` miss the first
    // observations of a series the same way (QA: the batch duration panel empty for a test
    // case written within one scrape interval). These per-table ones are observed only after
    // the batch declared its table; `zero()` resets, so the per-database ones (a flush is
    // recorded before its batches) are zeroed only while nothing was observed under them.
    this.batchSize.zero(l)
    if (!this.databasesObserved.has(this.databaseKey(database))) {
      const d = this.perDatabase(database)
      for (const h of [
        this.enqueueLatency,
        this.queueWait,
        this.flushSize,
        this.flushGroups,
        this.assemble,
      ])
        h.zero(d)
    }
  }

  /** Sets `gauge` per database to the sum of `read` over its bound pipelines (0 when none). */
  private collectPerDatabase(gauge: Gauge, read: (g: PipelineGauges) => number): void {
    gauge.reset()
    for (const labels of this.bound.series.values()) gauge.set(labels, 0)
    for (const p of this.bound.pipelines) gauge.inc(p.labels, read(p.gauges))
  }

  /**
   * The limit per database: summed over its bound pipelines, as `inflight_batches` is (so two
   * pipelines of 4 on one database show 8, not whichever set its limit last); a pipeline bound
   * without a limit of its own (forwarded from another process) counts the last one set; with
   * none bound, the last one set.
   */
  private collectLimits(gauge: Gauge): void {
    gauge.reset()
    const { limits, pipelines } = this.bound
    const sums = new Map<string, number>()
    for (const p of pipelines) {
      const l = p.limit ?? limits.get(p.series)?.limit
      if (l !== undefined) sums.set(p.series, (sums.get(p.series) ?? 0) + l)
    }
    for (const [series, last] of limits) gauge.set(last.labels, sums.get(series) ?? last.limit)
  }

  /**
   * Stops reading a pipeline's gauges (core calls it when the pipeline closes, so a closed
   * pipeline is not kept alive by its reporter); its database's series stay, at 0.
   */
  unbindGauges(gauges: PipelineGauges): void {
    const i = this.bound.pipelines.findIndex((p) => p.gauges === gauges)
    if (i >= 0) this.bound.pipelines.splice(i, 1)
  }

  // --- the guide's test-case API ------------------------------------------------------------

  /** The `test_case` label of everything recorded from now on. */
  setCurrentTestCase(name: string): void {
    // The tables of the test case that ends go on under the new one; not every table ever
    // seen, which would add a zero series per table for each test case (quadratic in a run of
    // many test cases with a table each, as the integration app's).
    const previous = this.tablesOfCase
    this.tablesOfCase = new Map()
    this.testCase = name
    // Started, not declared: a table only carried over is not carried on again.
    for (const [database, tables] of previous)
      for (const table of tables) this.startSeries(database, table)
  }

  get currentTestCase(): string {
    return this.testCase
  }

  recordTestResult(database: string, testCase: string, r: TestResult): void {
    const l = this.labels({ database, test_case: testCase })
    this.testDuration.set(l, r.durationSeconds)
    this.testRps.set(l, r.rps)
    this.testSuccess.set(l, r.success ? 1 : 0)
    this.integrity.set(l, r.integrityRate)
    const records: [string, number | undefined][] = [
      ['expected', r.expected],
      ['found', r.found],
      ['submitted', r.submitted],
      ['failed', r.failed],
      ['outcome_unknown', r.outcomeUnknown],
    ]
    for (const [type, v] of records)
      if (v !== undefined)
        this.testRecords.set(this.labels({ database, test_case: testCase, type }), v)
    if (r.memory) {
      const mem: [string, number | undefined][] = [
        ['rss', r.memory.rssMB],
        ['heap_used', r.memory.heapUsedMB],
        ['heap_total', r.memory.heapTotalMB],
        ['external', r.memory.externalMB],
      ]
      for (const [type, v] of mem)
        if (v !== undefined)
          this.memory.set(this.labels({ database, test_case: testCase, type }), v)
    }
    if (r.gcCount !== undefined) this.gcCount.set(l, r.gcCount)
  }

  /** Live figures while a test case runs (the app calls it every second). */
  recordRealTimeMetrics(database: string, testCase: string, rps: number, memoryMB: number): void {
    this.testRps.set(this.labels({ database, test_case: testCase }), rps)
    this.memory.set(this.labels({ database, test_case: testCase, type: 'rss' }), memoryMB)
  }

  recordGcCount(database: string, testCase: string, count: number): void {
    this.gcCount.set(this.labels({ database, test_case: testCase }), count)
  }

  // --- exposition ----------------------------------------------------------------------------

  /**
   * Every metric of `registry` (yours included, when you passed a registry) in a registry of
   * OpenMetrics content type, built when asked: prom-client renders a registry in one format,
   * and a second registry filled at construction would miss metrics registered since.
   */
  get openMetricsRegistry(): Registry {
    // The typings omit the constructor's content-type argument (prom-client 15.1).
    const om = new Registry()
    om.setContentType(Registry.OPENMETRICS_CONTENT_TYPE as never)
    for (const m of this.registry.getMetricsAsArray())
      om.registerMetric(openMetricsView(m as unknown as Metric))
    // Default labels of the registry (setDefaultLabels) have no getter; prom-client 15 keeps
    // them here.
    const defaults = (this.registry as unknown as { _defaultLabels?: Labels })._defaultLabels
    if (defaults !== undefined) om.setDefaultLabels(defaults)
    return om
  }

  /** The exposition text: Prometheus format, or OpenMetrics when `openMetrics` is true. */
  metrics(openMetrics = false): Promise<string> {
    return openMetrics ? this.openMetricsRegistry.metrics() : this.registry.metrics()
  }

  contentType(openMetrics = false): string {
    return openMetrics ? Registry.OPENMETRICS_CONTENT_TYPE : this.registry.contentType
  }

  /** Serves `/metrics` and `/health`; port 0 picks a free port. Resolves with the bound port. */
  async startServer(port: number, host = '127.0.0.1'): Promise<{ port: number; url: string }> {
    if (this.server)
      throw new BatchSQLError('BATCHSQL_INVALID_CONFIG', 'the metrics server is already running')
    // Claimed before it binds: set only after, two racing calls both bound a server and
    // stopServer() closed one, the other holding the process open (QA 2026-11-29).
    const server = new MetricsServer(this)
    this.server = server
    const listening = server.listen(port, host)
    this.starting = listening
    try {
      return await listening
    } catch (err) {
      if (this.server === server) this.server = undefined
      throw err
    } finally {
      if (this.starting === listening) this.starting = undefined
    }
  }

  /** Closes the server, one still binding included (once bound). */
  async stopServer(): Promise<void> {
    const s = this.server
    this.server = undefined
    if (s === undefined) return
    await this.starting?.catch(() => {})
    await s.close()
  }
}
