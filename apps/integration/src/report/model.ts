import type { ScenarioResult } from '../runner.js'

/** The JSON report: everything the HTML report shows, and what CI archives. */
export interface RunReport {
  tool: 'batchsql-integration'
  generatedAt: string
  passed: boolean
  durationSeconds: number
  machine: { node: string; platform: string; cpus: number; totalMemoryMB: number }
  settings: Record<string, unknown>
  results: ScenarioResult[]
}
