export type { SuiteContext } from './context.js'
export { canonical } from './normalize.js'
export { crossRowLocks, waitOnRowLock } from './provoke.js'
export { ReplyCutter } from './reply-cutter.js'
export { runConformanceSuite } from './suite.js'
export type { ColumnSpec } from './tables.js'
export { countRows, createTable, dropTable, readTable } from './tables.js'
export type {
  BareSession,
  ColumnDdl,
  ConformanceOptions,
  ConformanceTarget,
} from './target.js'
