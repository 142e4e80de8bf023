import { BatchSQLError } from './errors.js'
import { METRICS_REPORTER_METHODS, type MetricsReporter, noopMetrics } from './metrics.js'

const GUARDED = Symbol('batchsql.guardedReporter')

/**
 * `reporter`, wrapped so that none of its calls can throw. Why: the pipeline and executor
 * report from the middle of the data path (between taking rows off the buffer and handing them
 * to the executor, after a commit and before its outcome is settled), and a reporter that
 * throws there (a bug, a full push buffer) would lose accepted rows, hang `close()` or report
 * committed rows as failed. Metrics are not worth a row: an error is dropped, and the first
 * one is emitted once as a process warning (code `BATCHSQL_METRICS_FAILED`) so that it is not
 * invisible either.
 */
export function guardReporter(reporter: MetricsReporter): MetricsReporter {
  // `metrics: 'prom'` is a mistake to say at construction, not a TypeError of `in` (nor,
  // were it let through, a reporter that silently reports nothing).
  if (reporter === null || (typeof reporter !== 'object' && typeof reporter !== 'function'))
    throw new BatchSQLError(
      'BATCHSQL_INVALID_CONFIG',
      'metrics must be a MetricsReporter (an object of its methods)',
    )
  // The no-op cannot throw; keeping it bare keeps its calls free.
  if (reporter === noopMetrics || GUARDED in reporter) return reporter
  let warned = false
  const guarded: Record<string, unknown> = { [GUARDED]: true }
  for (const method of METRICS_REPORTER_METHODS) {
    guarded[method] = (...args: unknown[]) => {
      try {
        // Optional methods (recordKeyOrderWait) may be missing on older reporters.
        ;(reporter[method] as ((...a: unknown[]) => void) | undefined)?.apply(reporter, args)
      } catch (err) {
        if (warned) return
        warned = true
        const message = err instanceof Error ? err.message : String(err)
        process.emitWarning(
          `metrics reporter threw in ${method}() (${message}); further reporter errors are ignored`,
          { code: 'BATCHSQL_METRICS_FAILED' },
        )
      }
    }
  }
  return guarded as unknown as MetricsReporter
}
