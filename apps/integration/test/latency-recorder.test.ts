/**
 * The recorder of commit latencies keeps counts in log-linear buckets, not every value: its
 * percentiles are within 1 % of the exact nearest-rank ones, and its size does not grow with
 * the number of rows (a 30-minute soak acknowledges 18 M).
 */
import { describe, expect, it } from 'vitest'
import { LatencyRecorder } from '../src/stats.js'

/** Nearest-rank percentile of values sorted ascending: the exact figure. */
const exact = (sorted: Float64Array, p: number) =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!

/** A deterministic pseudo-random source (mulberry32), so a failure repeats. */
function random(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const PERCENTILES = [1, 10, 25, 50, 75, 90, 95, 99, 99.9, 100]

describe('LatencyRecorder', () => {
  it.each([
    // Exponential, mean 5 ms, as commit latencies roughly are; a long tail.
    ['exponential', (r: () => number) => -Math.log(1 - r()) * 5],
    // Log-uniform over 10 µs .. 10 s: every bucket scale used.
    ['log-uniform', (r: () => number) => 0.01 * 10 ** (6 * r())],
    // A few distinct values: percentiles land exactly on them or within 1 %.
    ['three values', (r: () => number) => [0.25, 3, 40][Math.floor(r() * 3)]!],
  ])('%s: every percentile within 1 %% of the exact one; max exact', (_name, draw) => {
    const r = random(42)
    const values = Float64Array.from({ length: 200_000 }, () => draw(r))
    const rec = new LatencyRecorder()
    for (const v of values) rec.push(v)
    const sorted = values.slice().sort()
    for (const p of PERCENTILES) {
      const want = exact(sorted, p)
      expect(Math.abs(rec.percentile(p) - want)).toBeLessThanOrEqual(want * 0.01 + 1e-12)
    }
    expect(rec.summary()).toMatchObject({ max: sorted[sorted.length - 1], samples: values.length })
  })

  it('one sample: every figure is that sample; none: zeros', () => {
    const rec = new LatencyRecorder()
    expect(rec.summary()).toEqual({ p50: 0, p95: 0, p99: 0, max: 0, samples: 0 })
    rec.push(12.345)
    expect(rec.summary()).toEqual({
      p50: 12.345,
      p95: 12.345,
      p99: 12.345,
      max: 12.345,
      samples: 1,
    })
  })

  it('its size is the same after 1,000 and after 3,000,000 samples', () => {
    const rec = new LatencyRecorder()
    const r = random(7)
    for (let i = 0; i < 1000; i++) rec.push(r() * 100)
    const small = rec.bytes
    expect(small).toBeLessThan(16 * 1024)
    for (let i = 0; i < 3_000_000; i++) rec.push(r() * 100)
    expect(rec.bytes).toBe(small)
    // The snapshot a producer process sends holds one entry per bucket used, not per sample.
    expect(rec.snapshot().counts.length).toBeLessThan(1000)
  })

  it('merging producer processes’ snapshots gives the figures of one recorder of all', () => {
    const r = random(3)
    const all = new LatencyRecorder()
    const parts = [new LatencyRecorder(), new LatencyRecorder(), new LatencyRecorder()]
    for (let i = 0; i < 30_000; i++) {
      const v = -Math.log(1 - r()) * (1 + (i % 3) * 20)
      all.push(v)
      parts[i % 3]!.push(v)
    }
    const merged = new LatencyRecorder()
    // Through JSON, as over the IPC channel.
    for (const p of parts) merged.merge(JSON.parse(JSON.stringify(p.snapshot())))
    merged.merge(new LatencyRecorder().snapshot())
    expect(merged.summary()).toEqual(all.summary())
  })
})
