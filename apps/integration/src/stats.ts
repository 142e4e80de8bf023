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

/** The smallest latency told apart by ratio (1 µs); below it, by at most 1 µs. */
const MIN_MS = 0.001
/** Each bucket is 2 % wider than the last: its middle is within 1 % of any value in it. */
const GROWTH = 1.02
/** The largest latency told apart (about 28 hours); above it, a percentile is the max. */
const MAX_MS = 1e8
const BUCKETS = Math.ceil(Math.log(MAX_MS / MIN_MS) / Math.log(GROWTH))
/**
 * `BOUNDS[i]` is the lower end of log bucket `i`, counted at `i + 1`; 0 counts what is below
 * MIN_MS, `BUCKETS + 1` what is above MAX_MS.
 */
const BOUNDS = Float64Array.from({ length: BUCKETS + 1 }, (_, i) => MIN_MS * GROWTH ** i)

/** A recorder's counts as a producer process sends them to its parent (IPC, JSON). */
export interface LatencySnapshot {
  /** [bucket, count] for the buckets that counted something. */
  counts: [number, number][]
  min: number
  max: number
}

/**
 * Commit latencies, one per acknowledged row, as counts in log-linear buckets (as
 * HdrHistogram keeps them) instead of every value: memory stays ~10 KB however many rows a run
 * acknowledges. A 30-minute soak acknowledges 18 M: kept one per row in a doubling array, they
 * would take 2^25 doubles (256 MB) and a sorted copy, counted in the peak RSS the report shows
 * for the pipeline (a 4-minute run of 2.4 M rows measured RSS rising 101 → 239 MB). A
 * percentile (nearest rank) is the middle of the bucket holding the ranked value, within 1 %
 * of it (1 µs below 1 µs), and never outside the exact min and max, which are kept as they
 * are. Written here rather than taken from hdr-histogram-js, which records integers only
 * (fractional ms would need ns units and some 40 bucket ranges) and merges across producer
 * processes through its compressed encoding and two more dependencies.
 */
export class LatencyRecorder {
  private readonly counts = new Float64Array(BUCKETS + 2)
  private min = Number.POSITIVE_INFINITY
  private max = Number.NEGATIVE_INFINITY
  length = 0
  /** Bytes the recorder holds for its counts: fixed, whatever the number of samples. */
  get bytes(): number {
    return this.counts.byteLength
  }
  push(ms: number): void {
    this.counts[bucketOf(ms)]!++
    if (ms < this.min) this.min = ms
    if (ms > this.max) this.max = ms
    this.length++
  }
  snapshot(): LatencySnapshot {
    const counts: [number, number][] = []
    this.counts.forEach((n, i) => {
      if (n > 0) counts.push([i, n])
    })
    return { counts, min: this.min, max: this.max }
  }
  /** Adds another recorder's counts (a producer process's). */
  merge(s: LatencySnapshot): void {
    for (const [i, n] of s.counts) {
      this.counts[i]! += n
      this.length += n
    }
    if (s.counts.length === 0) return
    this.min = Math.min(this.min, s.min)
    this.max = Math.max(this.max, s.max)
  }
  /** The nearest-rank percentile `p`, in ms (see the class comment for its precision). */
  percentile(p: number): number {
    if (this.length === 0) return 0
    const rank = Math.min(this.length, Math.max(1, Math.ceil((p / 100) * this.length)))
    let seen = 0
    let i = 0
    for (; i < this.counts.length; i++) {
      seen += this.counts[i]!
      if (seen >= rank) break
    }
    // Below MIN_MS (above MAX_MS) all values count in one bucket: the least (greatest) value
    // is the nearest one known.
    const middle = i === 0 ? this.min : i > BUCKETS ? this.max : (BOUNDS[i - 1]! + BOUNDS[i]!) / 2
    return Math.min(this.max, Math.max(this.min, middle))
  }
  summary() {
    return {
      p50: this.percentile(50),
      p95: this.percentile(95),
      p99: this.percentile(99),
      max: this.length === 0 ? 0 : this.max,
      samples: this.length,
    }
  }
}

/** The bucket counting `ms`: 0 below MIN_MS, `i + 1` for [BOUNDS[i], BOUNDS[i + 1]). */
function bucketOf(ms: number): number {
  if (!(ms >= MIN_MS)) return 0
  if (ms >= BOUNDS[BUCKETS]!) return BUCKETS + 1
  let i = Math.floor(Math.log(ms / MIN_MS) / Math.log(GROWTH))
  // The logarithm may round across a bound: the bounds themselves decide.
  if (i >= BUCKETS) i = BUCKETS - 1
  while (i > 0 && ms < BOUNDS[i]!) i--
  while (ms >= BOUNDS[i + 1]!) i++
  return i + 1
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
