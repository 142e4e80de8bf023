/** A small scenario for tests that call the runner or the producers directly. */
import { makeRow } from '../src/rows.js'
import type { Scenario } from '../src/scenarios.js'

export function testScenario(o: Partial<Scenario> & Pick<Scenario, 'name'>): Scenario {
  const perWorker = o.perWorker ?? 50
  return {
    description: 'a test scenario',
    strategy: 'insert',
    workers: 2,
    perWorker,
    flushSize: 10,
    bufferSize: 100,
    flushInterval: 5,
    row: (w, s) => makeRow(w * perWorker + s, w, s),
    ...o,
  }
}
