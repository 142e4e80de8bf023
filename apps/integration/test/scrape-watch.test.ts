import { describe, expect, it } from 'vitest'
import { ScrapeWatch } from '../src/scrape-watch.js'

/** Whether `p` has settled once pending callbacks ran. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false
  void p.then(() => {
    done = true
  })
  await new Promise((r) => setImmediate(r))
  return done
}

/** A watch on a clock of its own (`at(ms)` sets it) that saw scrapes at 0 and 5 s. */
function scrapedEvery5s() {
  let now = 0
  const watch = new ScrapeWatch(30_000, () => now)
  watch.scraped()
  now = 5_000
  watch.scraped()
  return {
    watch,
    at(ms: number) {
      now = ms
    },
  }
}

describe('ScrapeWatch: a scenario waits for the next scrape only while something scrapes', () => {
  it('nothing scraped, or one scrape only (a curl): no wait', async () => {
    const watch = new ScrapeWatch()
    expect(await settled(watch.next())).toBe(true)
    watch.scraped()
    expect(await settled(watch.next())).toBe(true)
  })

  it('scraped at an interval: waits for the next scrape, then every waiter goes', async () => {
    const { watch, at } = scrapedEvery5s()
    at(7_000)
    const a = watch.next()
    const b = watch.next()
    expect(await settled(a)).toBe(false)
    watch.scraped()
    expect(await settled(a)).toBe(true)
    expect(await settled(b)).toBe(true)
  })

  it('no scrape for longer than twice the interval and a second (Prometheus gone): no wait', async () => {
    const { watch, at } = scrapedEvery5s()
    at(16_001)
    expect(await settled(watch.next())).toBe(true)
  })

  it('scraping(): waits until two scrapes were seen (from then on next() waits), at once after', async () => {
    const watch = new ScrapeWatch()
    const seen = watch.scraping(30_000)
    watch.scraped()
    expect(await settled(seen)).toBe(false)
    watch.scraped()
    await seen
    expect(await settled(watch.scraping(30_000))).toBe(true)
    expect(await settled(watch.next())).toBe(false)
  })

  it('a scrape that does not come: the wait ends after twice the interval and a second', async () => {
    const watch = new ScrapeWatch()
    watch.scraped()
    watch.scraped()
    const wait = watch.next()
    expect(await settled(wait)).toBe(false)
    await wait
  })
})
