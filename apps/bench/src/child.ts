import { CONTENDERS } from './cases.js'
import type { Contender } from './contender.js'
import { distinctKeys, lastWrites, WORKLOADS, type WorkloadName } from './workloads.js'

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
    await lastWriteCheck(spec.name, c, lastWrites(w, m.rows, m.producers))
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

/**
 * After an upsert run, each repeated key must hold its later row (`lastWrites`): the row count
 * alone passed a contender whose concurrent statements let an older row win.
 */
async function lastWriteCheck(
  name: string,
  c: Contender,
  expected: Map<number, string>,
): Promise<void> {
  const ids = [...expected.keys()]
  let older = 0
  for (let i = 0; i < ids.length; i += 10_000) {
    const part = ids.slice(i, i + 10_000)
    const got = await c.names(part)
    for (const id of part) if (got.get(id) !== expected.get(id)) older++
  }
  if (older > 0)
    throw new Error(`${name}: ${older} of ${ids.length} repeated keys do not hold their last write`)
}

main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
