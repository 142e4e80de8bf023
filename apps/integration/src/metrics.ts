/**
 * The app's metrics: the guide's `PrometheusMetrics` serving /metrics, with the pipeline
 * metrics of every scenario's BatchSQL and the per-scenario test results.
 */
import type { MetricsReporter } from '@batchsql/core'
import { MetricsServer, PrometheusMetrics } from '@batchsql/prometheus'
import type { AppConfig } from './config.js'
import type { ScenarioResult } from './runner.js'
import { ScrapeWatch } from './scrape-watch.js'

export interface Metrics {
  readonly reporter: MetricsReporter
  /** Where /metrics is served, if it is. */
  readonly url: string | undefined
  readonly notice: string | undefined
  setCurrentTestCase(name: string): void
  /** Starts a scenario table's counters at 0, so that rate() on the dashboard counts its first batch. */
  declareTable(database: string, table: string): void
  /**
   * Resolves once /metrics has been scraped after this call if something scrapes it (see
   * ScrapeWatch): the declared counters are then seen at 0 before the scenario writes.
   */
  scrapedOnce(): Promise<void>
  /** Resolves once /metrics is seen scraped at an interval (two scrapes), or after `limitMs`. */
  scraping(limitMs: number): Promise<void>
  recordRealTimeMetrics(database: string, testCase: string, rps: number, rssMB: number): void
  recordResult(r: ScenarioResult): void
  stop(): Promise<void>
}

/**
 * Where /metrics can be fetched: a wildcard interface (`0.0.0.0`, `::`) through loopback, an
 * IPv6 address in brackets (`http://::1:9090` is not a URL).
 */
export function metricsUrl(host: string, port: number): string {
  const reachable = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host
  return `http://${reachable.includes(':') ? `[${reachable}]` : reachable}:${port}/metrics`
}

export async function startMetrics(config: AppConfig): Promise<Metrics> {
  const prom = new PrometheusMetrics({ defaultMetrics: true })
  const scrapes = new ScrapeWatch()
  // The package's server over a source that notes each scrape once its text is built.
  const server = new MetricsServer({
    async metrics(openMetrics) {
      const text = await prom.metrics(openMetrics)
      scrapes.scraped()
      return text
    },
    contentType: (openMetrics) => prom.contentType(openMetrics),
  })
  let url: string | undefined
  let notice: string | undefined
  try {
    const { port } = await server.listen(config.prometheusPort, config.metricsHost)
    url = metricsUrl(config.metricsHost, port)
  } catch (err) {
    const code = (err as { code?: string }).code
    if (code !== 'EADDRINUSE' || config.prometheusPortExplicit) throw err
    // The guide's default 9090 is also Prometheus's own port: when it is taken and the user
    // did not ask for it, serve on a free port and say so, rather than fail the main job.
    const { port } = await server.listen(0, config.metricsHost)
    url = metricsUrl(config.metricsHost, port)
    notice = `port ${config.prometheusPort} is in use; /metrics is on port ${port} instead (set PROMETHEUS_PORT to choose)`
  }
  return {
    reporter: prom,
    url,
    notice,
    setCurrentTestCase: (name) => prom.setCurrentTestCase(name),
    declareTable: (database, table) => prom.declareTable(database, table),
    scrapedOnce: () => scrapes.next(),
    scraping: (limitMs) => scrapes.scraping(limitMs),
    recordRealTimeMetrics: (db, tc, rps, rssMB) => prom.recordRealTimeMetrics(db, tc, rps, rssMB),
    recordResult(r) {
      const mem = process.memoryUsage()
      prom.recordTestResult(r.database, r.scenario, {
        durationSeconds: r.durationSeconds,
        expected: r.verification.expectedRows,
        found: r.verification.foundRows,
        submitted: r.submitted,
        failed: r.unexpectedFailures + r.poisonReported,
        // Reported too, but possibly written (a keyless scenario's in-doubt rows).
        outcomeUnknown: r.verification.inDoubtRows,
        rps: r.persistedRate ?? 0,
        success: r.passed,
        integrityRate: r.verification.integrityRate,
        memory: {
          rssMB: r.memory.peakRssMB,
          heapUsedMB: r.memory.peakHeapUsedMB,
          heapTotalMB: mem.heapTotal / 1024 / 1024,
          externalMB: mem.external / 1024 / 1024,
        },
        gcCount: r.gc.count,
      })
    },
    stop: () => server.close(),
  }
}
