/**
 * When Prometheus last scraped /metrics, so that a scenario starts only once its series were
 * scraped at 0. Each scenario's series are new (a `test_case` label of their own), and most
 * scenarios write their rows within one scrape interval: Prometheus then first saw a series
 * at or near its final value, which `rate()` and `increase()` cannot count, so the dashboard's
 * rate panels showed little or nothing of a run, failures included (QA: three scenarios of
 * 100,000 rows at 0, 2,000 failed rows of a Redis run invisible to `increase()`).
 */
export class ScrapeWatch {
  private prevAt = Number.NEGATIVE_INFINITY
  private lastAt = Number.NEGATIVE_INFINITY
  private waiting: (() => void)[] = []

  /** `limitMs`: the longest wait for a scrape. */
  constructor(
    private readonly limitMs = 30_000,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** A scrape was answered (its text was built from the metrics as they are now). */
  scraped(): void {
    this.prevAt = this.lastAt
    this.lastAt = this.now()
    const waiting = this.waiting
    this.waiting = []
    for (const resolve of waiting) resolve()
  }

  /**
   * Resolves once something is seen scraping at an interval (two scrapes: from then on
   * `next()` waits), at once if it was, or after `limitMs`.
   */
  async scraping(limitMs: number): Promise<void> {
    const until = this.now() + limitMs
    while (this.prevAt === Number.NEGATIVE_INFINITY && this.now() < until)
      await this.wait(until - this.now())
  }

  /**
   * Resolves at the next scrape while something scrapes at an interval (two scrapes seen, the
   * last within twice their interval and a second: a single `curl` makes nobody wait), at once
   * otherwise; after twice that interval and a second, or `limitMs`, at the latest.
   */
  next(): Promise<void> {
    const interval = this.lastAt - this.prevAt
    const patience = 2 * interval + 1_000
    if (!Number.isFinite(interval) || this.now() - this.lastAt > patience) return Promise.resolve()
    return this.wait(Math.min(this.limitMs, patience))
  }

  private wait(limitMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, limitMs)
      this.waiting.push(() => {
        clearTimeout(timer)
        resolve()
      })
    })
  }
}
