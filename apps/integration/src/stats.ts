import { PerformanceObserver } from 'node:perf_hooks'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

/**
 * A full garbage collection, so that one scenario's garbage does not count in the next
 * one's memory figures (scenarios are isolated, their memory too).
 */
export const collectGarbage: () => void = (() => {
  setFlagsFromString('--expose-gc')
  return runInNewContext('gc') as () => void
})()

/** Latency percentile (nearest rank) of a sample sorted ascending, in ms. */
function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[i]!
}

/** Commit latencies, one per acknowledged row, in a growable typed array (no per-row objects). */
export class LatencyRecorder {
  private data = new Float64Array(1 << 16)
  length = 0
  push(ms: number): void {
    if (this.length === this.data.length) {
      const next = new Float64Array(this.data.length * 2)
      next.set(this.data)
      this.data = next
    }
    this.data[this.length++] = ms
  }
  values(): number[] {
    return Array.from(this.data.subarray(0, this.length))
  }
  summary() {
    const sorted = this.data.slice(0, this.length).sort()
    return {
      p50: percentile(sorted, 50),
      p95: percentile(sorted, 95),
      p99: percentile(sorted, 99),
      max: sorted[sorted.length - 1] ?? 0,
      samples: this.length,
    }
  }
}

/** Counts garbage collections while running (Node reports each as a `gc` performance entry). */
export class GcCounter {
  count = 0
  pauseMs = 0
  private readonly observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      this.count++
      this.pauseMs += e.duration
    }
  })
  start(): this {
    this.observer.observe({ entryTypes: ['gc'] })
    return this
  }
  stop(): void {
    // Entries are delivered asynchronously: take the ones still queued before disconnecting.
    for (const e of this.observer.takeRecords()) {
      this.count++
      this.pauseMs += e.duration
    }
    this.observer.disconnect()
  }
}

export const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10
