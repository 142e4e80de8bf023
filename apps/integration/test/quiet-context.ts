/** A RunContext for calling the runner directly: no /metrics, no output. */
import { noopMetrics } from '@batchsql/core'
import { type AppConfig, parseConfig } from '../src/config.js'
import type { Metrics } from '../src/metrics.js'
import type { Progress } from '../src/progress.js'
import type { RunContext } from '../src/runner.js'

export function quietContext(stop: AbortSignal = new AbortController().signal): RunContext {
  const config: AppConfig = parseConfig([], {})
  const metrics: Metrics = {
    reporter: noopMetrics,
    url: undefined,
    notice: undefined,
    setCurrentTestCase() {},
    declareTable() {},
    scrapedOnce: async () => {},
    scraping: async () => {},
    recordRealTimeMetrics() {},
    recordResult() {},
    stop: async () => {},
  }
  const progress: Progress = { start() {}, update() {}, finish() {}, log() {} }
  return { config, metrics, progress, entry: '', stop }
}
