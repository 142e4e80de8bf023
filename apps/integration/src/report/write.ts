import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { renderHtml } from './html.js'
import type { RunReport } from './model.js'

/** Writes `integration-report.json` and `integration-report.html`; returns their paths. */
export function writeReports(dir: string, report: RunReport): { json: string; html: string } {
  mkdirSync(dir, { recursive: true })
  const json = join(dir, 'integration-report.json')
  const html = join(dir, 'integration-report.html')
  writeFileSync(json, `${JSON.stringify(report, null, 2)}\n`)
  writeFileSync(html, renderHtml(report))
  return { json, html }
}
