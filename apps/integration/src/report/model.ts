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
  /**
   * What could not run to its end (the run fails): a database it could not reach (`scenario`
   * null: none of its scenarios ran), a scenario that failed outright (a producer process
   * died), or one that ran but whose table could not be read back (`ran`: the server went
   * down; `error` says what the pipeline reported).
   */
  notRun: { database: string; scenario: string | null; error: string; ran?: boolean }[]
  /** Set when Ctrl-C or SIGTERM stopped the run: the scenarios after it did not run. */
  interrupted: 'SIGINT' | 'SIGTERM' | null
}
