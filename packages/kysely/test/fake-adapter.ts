import type { SqlDialectAdapter } from '../src/index.js'

/**
 * A dialect that cannot run anything: enough for the engine's pure planning logic
 * (grouping, ordering, chunking). SQL behaviour is tested against real databases by the
 * dialect packages' conformance suites, never with this.
 */
export function planningAdapter(over: Partial<SqlDialectAdapter> = {}): SqlDialectAdapter {
  return {
    name: 'planning',
    maxParameters: 100,
    rowsPerStatement: 1000,
    toDriverValue: (v) => v,
    buildInsert: () => {
      throw new Error('planning adapter builds no SQL')
    },
    classify: () => undefined,
    ...over,
  }
}
