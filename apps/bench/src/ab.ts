/**
 * One contender of the table, from two checkouts of the repository, interleaved: whether a
 * change costs anything, on a machine where two runs of one case differ by up to 40 % (the
 * pairs share the moment, not the absolute figures). Each checkout must be installed and
 * built; its own `apps/bench/src/child.ts` measures it in a fresh process.
 *   node --import tsx apps/bench/src/ab.ts <workload> <rows> <producers> <rounds> <contender> <checkoutA> <checkoutB>
 * Prints rows/s of both and B/A per round (the order within a round alternates), then the
 * median ratio.
 */
import { fork } from 'node:child_process'
import { resolve } from 'node:path'
import type { Measurement, MeasurementResult } from './child.js'
import type { WorkloadName } from './workloads.js'

const [workload, rows, producers, rounds, contender, a, b] = process.argv.slice(2)
if (b === undefined) {
  console.error(
    'usage: ab.ts <workload> <rows> <producers> <rounds> <contender> <checkoutA> <checkoutB>',
  )
  process.exit(2)
}
const checkouts = [resolve(a!), resolve(b)] as const
const m: Measurement = {
  contender: Number(contender),
  workload: workload as WorkloadName,
  rows: Number(rows),
  producers: Number(producers),
}

function measure(checkout: string): Promise<MeasurementResult> {
  return new Promise((done, fail) => {
    const child = fork(`${checkout}/apps/bench/src/child.ts`, [JSON.stringify(m)], {
      cwd: checkout,
      execArgv: ['--import', 'tsx'],
    })
    let result: MeasurementResult | undefined
    child.on('message', (r) => {
      result = r as MeasurementResult
    })
    child.on('exit', (code) =>
      code === 0 && result ? done(result) : fail(new Error(`${checkout}: exit ${code}`)),
    )
  })
}

const ratios: number[] = []
for (let i = 0; i < Number(rounds); i++) {
  const rate = new Map<string, number>()
  for (const c of i % 2 === 0 ? checkouts : [...checkouts].reverse())
    rate.set(c, (await measure(c)).rowsPerSec)
  const [ra, rb] = checkouts.map((c) => rate.get(c)!) as [number, number]
  ratios.push(rb / ra)
  console.log(
    `A ${(ra / 1000).toFixed(0)}k  B ${(rb / 1000).toFixed(0)}k  B/A ${(rb / ra).toFixed(2)}`,
  )
}
const sorted = [...ratios].sort((x, y) => x - y)
const mid = sorted.length >> 1
const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
console.log(`median B/A ${median.toFixed(2)} over ${ratios.length} round(s)`)
