import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { chromium } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import { renderHtml } from '../src/report/html.js'
import type { RunReport } from '../src/report/model.js'
import type { ScenarioResult } from '../src/runner.js'
import { tempDir } from './helpers.js'

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

/** A scenario shorter than the 1 s sampling interval: one sample, taken when it closed. */
const brief: ScenarioResult = {
  database: 'sqlite',
  scenario: 'high_throughput',
  description: 'brief',
  strategy: 'insert',
  processes: 1,
  submitted: 100,
  poisonSubmitted: 0,
  poisonReported: 0,
  unexpectedFailures: 0,
  failuresByReason: {},
  reportedFailures: {},
  verification: {
    expectedRows: 100,
    foundRows: 100,
    matchingRows: 100,
    missingRows: 0,
    unexpectedRows: 0,
    duplicateRows: 0,
    wrongRows: 0,
    inDoubtRows: 0,
    inDoubtFound: 0,
    failedFound: 0,
    expectedChecksum: 'x',
    foundChecksum: 'x',
    integrityRate: 100,
  },
  submitRate: 1000,
  persistedRate: 1000,
  durationSeconds: 0.1,
  latencyMs: { p50: 1, p95: 2, p99: 3, max: 4, samples: 100 },
  memory: { startRssMB: 80, peakRssMB: 90, peakHeapUsedMB: 20, endRssMB: 85 },
  gc: { count: 1, pauseMs: 1 },
  fault: null,
  timeline: [{ t: 0.1, submitRps: 1000, commitRps: 1000, rssMB: 90, heapUsedMB: 20 }],
  passed: true,
  problems: [],
}

const report: RunReport = {
  tool: 'batchsql-integration',
  generatedAt: new Date(0).toISOString(),
  passed: true,
  durationSeconds: 0.2,
  machine: { node: process.version, platform: 'linux-x64', cpus: 1, totalMemoryMB: 1024 },
  settings: {},
  results: [brief],
  notRun: [],
  interrupted: null,
}

describe('HTML report, a series of one sample', () => {
  it('is drawn as a point in the rows/s and memory charts (a line needs two)', {
    timeout: 60_000,
  }, async () => {
    const dir = tempDir('one-sample')
    const file = join(dir, 'report.html')
    writeFileSync(file, renderHtml(report))
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] })
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 1200 } })
      await page.goto(`file://${file}`)
      await page.waitForFunction(() => document.body.dataset.charts === '4')
      // The drawn radius of the one point (0: nothing drawn), and the pixel at its centre.
      const drawn = await page.evaluate(() =>
        [0, 2].map((i) => {
          type PointChart = {
            canvas: HTMLCanvasElement
            getDatasetMeta(n: number): {
              data: { x: number; y: number; options: { radius: number } }[]
            }
          }
          const chart = (window as unknown as { charts: PointChart[] }).charts[i]!
          const point = chart.getDatasetMeta(0).data[0]!
          const scale = chart.canvas.width / chart.canvas.clientWidth
          const [r, g, b, a] = chart.canvas
            .getContext('2d')!
            .getImageData(Math.round(point.x * scale), Math.round(point.y * scale), 1, 1).data
          // Coloured (the series' colour), not blank and not a grey grid line.
          return { radius: point.options.radius, coloured: a! > 0 && !(r === g && g === b) }
        }),
      )
      expect(drawn).toEqual([
        { radius: expect.any(Number), coloured: true },
        { radius: expect.any(Number), coloured: true },
      ])
      for (const d of drawn) expect(d.radius).toBeGreaterThan(0)
    } finally {
      await browser.close()
      rmSync(dir, { recursive: true })
    }
  })
})
