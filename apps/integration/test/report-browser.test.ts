import { join } from 'node:path'
import { chromium } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import { keepInLogs, runApp, tempDir } from './helpers.js'

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

describe('HTML report', () => {
  it('renders its four charts in headless Chromium with no console errors', {
    timeout: 120_000,
  }, async () => {
    const dir = tempDir('report')
    const r = await runApp({
      SQLITE_PATH: join(dir, 'app.sqlite'),
      REPORT_DIR: dir,
      PROMETHEUS_PORT: '0',
      PROGRESS: 'none',
      RECORDS_PER_WORKER: '2000',
      SCENARIOS: 'high_throughput,upsert_update,poison_rows',
    })
    expect(r.code, r.stderr).toBe(0)
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] })
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 1200 } })
      const errors: string[] = []
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text())
      })
      page.on('pageerror', (e) => errors.push(e.message))
      // No network: the report must be self-contained.
      await page.route('**/*', (route) =>
        route.request().url().startsWith('file:') ? route.continue() : route.abort(),
      )
      await page.goto(`file://${join(dir, 'integration-report.html')}`)
      await page.waitForFunction(() => document.body.dataset.charts === '4')
      // Every canvas has drawn something: count non-transparent pixels.
      const painted = await page.evaluate(() =>
        Array.from(document.querySelectorAll('canvas')).map((c) => {
          const d = (c as HTMLCanvasElement)
            .getContext('2d')!
            .getImageData(0, 0, c.width, c.height).data
          let n = 0
          for (let i = 3; i < d.length; i += 4) if (d[i]! > 0) n++
          return n
        }),
      )
      expect(painted).toHaveLength(4)
      for (const n of painted) expect(n).toBeGreaterThan(500)
      expect(await page.locator('tbody tr').count()).toBe(3)
      expect(await page.locator('h1').textContent()).toContain('PASS')
      const shot = join(dir, 'integration-report.png')
      await page.screenshot({ path: shot, fullPage: true })
      keepInLogs(shot)
      expect(errors).toEqual([])
    } finally {
      await browser.close()
    }
  })
})
