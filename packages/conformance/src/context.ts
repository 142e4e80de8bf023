import type { SqlBatchSQL, SqlBatchSQLConfig } from '@batchsql/kysely'
import type { ConformanceOptions, ConformanceTarget } from './target.js'

/** What each group of cases gets: the connected target, and pipelines it closes for you. */
export interface SuiteContext {
  readonly options: ConformanceOptions
  target(): ConformanceTarget
  /** A pipeline that is closed after the test if the test did not close it. */
  batch(config?: SqlBatchSQLConfig): SqlBatchSQL
  /** Drops the table after the test. */
  cleanup(table: string): void
}
