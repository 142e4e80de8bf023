/**
 * Pipeline metrics across processes (`--processes N`): a producer process records into a
 * reporter that posts each call to the parent, which replays it into the reporter serving
 * /metrics. Without it the children's pipelines reported nowhere, and the dashboard's panels
 * stayed empty for such runs. Calls come per flush or per batch, never per row, so one IPC
 * message each is cheap; the queue gauges are sampled with the progress ticks instead.
 */
import { METRICS_REPORTER_METHODS, type MetricsReporter, type PipelineGauges } from '@batchsql/core'

/** The reporter methods that carry plain values (gauges are functions: not forwarded). */
const FORWARDED = METRICS_REPORTER_METHODS.filter(
  (m): m is Exclude<(typeof METRICS_REPORTER_METHODS)[number], 'bindGauges' | 'unbindGauges'> =>
    m !== 'bindGauges' && m !== 'unbindGauges',
)
type Forwarded = (typeof FORWARDED)[number]

export interface MetricCall {
  readonly metric: Forwarded
  readonly args: unknown[]
}

/** In a producer process: a reporter whose calls go to the parent over IPC. */
export function forwardingReporter(send: (call: MetricCall) => void): MetricsReporter {
  const r: Record<string, unknown> = { bindGauges: () => {}, unbindGauges: () => {} }
  for (const metric of FORWARDED) r[metric] = (...args: unknown[]) => send({ metric, args })
  return r as unknown as MetricsReporter
}

/** In the parent: replays a child's call into `reporter` (unknown names are ignored). */
export function replay(reporter: MetricsReporter, call: MetricCall): void {
  if (!(FORWARDED as readonly string[]).includes(call.metric)) return
  ;(reporter[call.metric] as ((...a: unknown[]) => void) | undefined)?.apply(reporter, call.args)
}

/**
 * In the parent: the queue gauges of a child's pipeline, as last sampled, for
 * `reporter.bindGauges` (read at scrape time, like a local pipeline's).
 */
export class SampledGauges implements PipelineGauges {
  private queue = 0
  private inFlight = 0
  update(queueLength: number, inFlightBatches: number): void {
    this.queue = queueLength
    this.inFlight = inFlightBatches
  }
  queueLength(): number {
    return this.queue
  }
  inFlightBatches(): number {
    return this.inFlight
  }
}
