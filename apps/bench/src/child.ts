import { CONTENDERS } from './cases.js'
import { distinctKeys, WORKLOADS, type WorkloadName } from './workloads.js'

export interface Measurement {
  readonly contender: number
  readonly workload: WorkloadName
  readonly rows: number
  readonly producers: number
}

export interface MeasurementResult {
  readonly rowsPerSec: number
  readonly seconds: number
  /** Peak resident set of the whole child process, MiB. */
  readonly peakRssMiB: number
}

/** One measurement in a fresh process, so RSS and JIT state never leak between runs. */
async function main(): Promise<void> {
  const m = JSON.parse(process.argv[2] ?? '') as Measurement
  const spec = CONTENDERS[m.contender]
  if (!spec) throw new Error(`no contender ${m.contender}`)
  const w = WORKLOADS[m.workload]
  const c = spec.make()
  try {
    await c.setup(w)
    const t0 = performance.now()
    await c.run(w, m.rows, m.producers)
    const seconds = (performance.now() - t0) / 1000
    // Read before count(): verifying (e.g. a Redis SCAN) must not inflate the figure.
    const peakRssMiB = process.resourceUsage().maxRSS / 1024
    const present = await c.count()
    const expected = distinctKeys(w, m.rows)
    if (present !== expected)
      throw new Error(`${spec.name}: ${present} rows present, ${expected} expected`)
    const result: MeasurementResult = {
      rowsPerSec: m.rows / seconds,
      seconds,
      peakRssMiB,
    }
    process.send?.(result)
  } finally {
    await c.teardown()
  }
}

main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
