import { fork } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type Backend, CONTENDERS } from './cases.js'
import type { Measurement, MeasurementResult } from './child.js'
import type { WorkloadName } from './workloads.js'

const HERE = dirname(fileURLToPath(import.meta.url))
const REPORTS = join(HERE, '..', '..', '..', 'reports')
/**
 * Every setting is checked before anything runs: a typo (`BENCH_BACKENDS=mysql`, the
 * integration app's name) once selected no contender and wrote an empty table, `BENCH_ROWS=abc`
 * ran NaN rows. A handful of variables: a few lines here rather than a parser library.
 */
function envInt(name: string, fallback: number): number {
  const raw = process.env[name]
  if (raw === undefined) return fallback
  const n = Number(raw)
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name}: expected a positive integer`)
  return n
}

function envList<T extends string>(name: string, allowed: readonly T[], aliases = {}): T[] {
  const raw = process.env[name]
  if (raw === undefined) return [...allowed]
  return raw.split(',').map((item) => {
    const v = ((aliases as Record<string, string>)[item.trim()] ?? item.trim()) as T
    if (!allowed.includes(v)) throw new Error(`${name}: unknown "${item}" (${allowed.join(', ')})`)
    return v
  })
}

/**
 * 1,000,000 rows per run, fewer where a run would take over a minute (docs/performance.md):
 * wide rows through knex and pg-promise run at 8–35 k rows/s here, so wide runs use 300,000.
 * The whole run takes about 30 minutes on the 2-core development machine.
 */
const ROWS = envInt('BENCH_ROWS', 1_000_000)
const WIDE_ROWS = envInt('BENCH_WIDE_ROWS', 300_000)
/** Row counts of the peak-RSS check; empty (`BENCH_RSS_ROWS=`) skips it. */
const RSS_ROWS = (process.env.BENCH_RSS_ROWS ?? '100000,1000000')
  .split(',')
  .filter((n) => n.trim() !== '')
  .map((n) => {
    const rows = Number(n)
    if (!Number.isSafeInteger(rows) || rows < 1)
      throw new Error('BENCH_RSS_ROWS: expected positive integers, comma-separated')
    return rows
  })
/**
 * Interleaved repetitions. Three, not two: two runs of one case here differ by up to 40 %, and
 * the table's ratio is the median of the paired per-repetition ratios, which needs three.
 */
const REPS = envInt('BENCH_REPS', 3)
/** Comma-separated backends to measure (default all), e.g. `sqlite,postgres`. */
const BACKENDS: readonly Backend[] = envList(
  'BENCH_BACKENDS',
  ['sqlite', 'postgres', 'mariadb', 'redis'] as const,
  { mysql: 'mariadb' },
)
/**
 * The RSS check runs under a V8 heap cap: without one V8 grows its heap lazily (a 1M-row run
 * peaks at ~290 MiB while `--trace-gc` shows ~24 MiB live after every full GC), so uncapped
 * peak RSS measures GC policy, not what BatchSQL holds. Under the cap, a pipeline that kept
 * anything per row would run out of memory before 1M rows (96 MiB: 96 bytes a row).
 * Not 64 MiB: the Redis path allocates fast enough that concurrent marking leaves 45-50 MiB
 * of floating garbage after a mark-compact (its live heap, with forced GCs, is 13 MiB at
 * 100k, 1M and 3M commands), and one 1M run in about ten died at that limit.
 */
const RSS_HEAP_MIB = envInt('BENCH_RSS_HEAP_MIB', 96)
/** Comma-separated workloads to measure (default all), e.g. `upsert`. */
const WORKLOADS = envList<WorkloadName>('BENCH_WORKLOADS', ['narrow', 'wide', 'upsert'])
const PRODUCERS = [1, 10] as const

function measure(m: Measurement, heapMiB?: number): Promise<MeasurementResult> {
  return new Promise((resolve, reject) => {
    const child = fork(join(HERE, 'child.ts'), [JSON.stringify(m)], {
      execArgv: [
        '--import',
        'tsx',
        ...(heapMiB === undefined ? [] : [`--max-old-space-size=${heapMiB}`]),
      ],
    })
    let result: MeasurementResult | undefined
    child.on('message', (msg) => {
      result = msg as MeasurementResult
    })
    child.on('error', reject)
    child.on('exit', (code) => {
      if (code === 0 && result) resolve(result)
      else reject(new Error(`measurement ${JSON.stringify(m)} exited with ${code}`))
    })
  })
}

interface Row extends Measurement {
  readonly backend: string
  readonly name: string
  readonly baseline: boolean
  runs: MeasurementResult[]
}

async function main(): Promise<void> {
  const rows: Row[] = []
  for (const w of WORKLOADS) {
    for (const producers of PRODUCERS) {
      CONTENDERS.forEach((spec, contender) => {
        if (spec.workloads && !spec.workloads.includes(w)) return
        if (!BACKENDS.includes(spec.backend)) return
        rows.push({
          backend: spec.backend,
          name: spec.name,
          baseline: spec.baseline === true,
          contender,
          workload: w,
          producers,
          rows: w === 'wide' ? WIDE_ROWS : ROWS,
          runs: [],
        })
      })
    }
  }
  // Grouped by backend within each workload and producer count (stable: contender order within).
  const backendOrder: readonly string[] = ['sqlite', 'postgres', 'mariadb', 'redis']
  rows.sort(
    (a, b) =>
      WORKLOADS.indexOf(a.workload) - WORKLOADS.indexOf(b.workload) ||
      a.producers - b.producers ||
      backendOrder.indexOf(a.backend) - backendOrder.indexOf(b.backend),
  )
  // Peak RSS must stay flat when the row count grows tenfold (bounded by bufferSize).
  const rss = CONTENDERS.flatMap((spec, contender) =>
    // submit() contenders only: submitMany() goes through the same bounded buffer.
    spec.name.startsWith('BatchSQL') &&
    !spec.name.includes('submitMany') &&
    BACKENDS.includes(spec.backend)
      ? RSS_ROWS.map((n) => ({
          backend: spec.backend,
          name: spec.name,
          baseline: false,
          contender,
          workload: 'narrow' as const,
          producers: 1,
          rows: n,
          runs: [] as MeasurementResult[],
        }))
      : [],
  )
  // Interleaved: every repetition visits every case once, so load spikes from the other
  // tenants of the machine spread over all contenders instead of hitting one.
  for (let rep = 0; rep < REPS; rep++) {
    for (const r of rows) {
      r.runs.push(await measure(r))
      process.stderr.write('.')
    }
  }
  // A run that dies under the heap cap is a finding to report next to the others, not a
  // reason to throw away the whole table.
  const rssFailures = new Map<Row, string>()
  for (const r of rss) {
    try {
      r.runs.push(await measure(r, RSS_HEAP_MIB))
    } catch (err) {
      rssFailures.set(r, (err as Error).message)
    }
  }
  process.stderr.write('\n')

  const best = (r: Row) => r.runs.reduce((a, b) => (b.rowsPerSec > a.rowsPerSec ? b : a))
  const baseline = (r: Row) =>
    rows.find(
      (b) =>
        b.baseline &&
        b.backend === r.backend &&
        b.workload === r.workload &&
        b.producers === r.producers,
    )
  /**
   * Repetition k of a case over repetition k of its baseline: measured minutes apart in the
   * same pass, so a slow spell of the machine hits both. Their median is the table's ratio;
   * the best-of ratio (two bests from different moments) stays in the JSON. Every pass
   * measures every case (a failed measurement ends the bench), so run k always exists.
   */
  const paired = (r: Row, base: Row) =>
    r.runs.map((x, k) => x.rowsPerSec / base.runs[k]!.rowsPerSec)
  const median = (xs: readonly number[]) => {
    const s = [...xs].sort((a, b) => a - b)
    const m = s.length >> 1
    return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
  }
  const round2 = (x: number) => Number(x.toFixed(2))
  const table = rows.map((r) => {
    const b = best(r)
    const base = baseline(r)
    const ratios = base ? paired(r, base) : []
    return {
      backend: r.backend,
      workload: r.workload,
      producers: r.producers,
      rows: r.rows,
      contender: r.name,
      rowsPerSec: Math.round(b.rowsPerSec),
      ratioToBareInsert: base ? round2(b.rowsPerSec / best(base).rowsPerSec) : null,
      pairedRatioMedian: base ? round2(median(ratios)) : null,
      pairedRatios: ratios.map(round2),
      peakRssMiB: Math.round(Math.max(...r.runs.map((x) => x.peakRssMiB))),
      allRunsRowsPerSec: r.runs.map((x) => Math.round(x.rowsPerSec)),
    }
  })
  const rssTable = rss.map((r) => ({
    backend: r.backend,
    contender: r.name,
    rows: r.rows,
    rowsPerSec: r.runs.length > 0 ? Math.round(best(r).rowsPerSec) : null,
    peakRssMiB: r.runs.length > 0 ? Math.round(best(r).peakRssMiB) : null,
    error: rssFailures.get(r) ?? null,
  }))

  const fmt = (n: number) => n.toLocaleString('en-US')
  const lines = [
    `${REPS} interleaved runs per case. rows/s: the best run. x bare INSERT: the median of the`,
    'per-run ratios to the bare-driver INSERT run of the same pass (lowest–highest after it).',
    'Peak RSS: the highest of the measuring child process.',
    '',
    '| backend | workload | producers | rows | contender | rows/s | x bare INSERT | peak RSS MiB |',
    '|---|---|---|---|---|---|---|---|',
    ...table.map((t) => {
      const range =
        t.pairedRatios.length > 1 && Math.min(...t.pairedRatios) !== Math.max(...t.pairedRatios)
          ? ` (${Math.min(...t.pairedRatios).toFixed(2)}–${Math.max(...t.pairedRatios).toFixed(2)})`
          : ''
      const ratio = t.pairedRatioMedian === null ? '' : `${t.pairedRatioMedian.toFixed(2)}${range}`
      return `| ${t.backend} | ${t.workload} | ${t.producers} | ${fmt(t.rows)} | ${t.contender} | ${fmt(t.rowsPerSec)} | ${ratio} | ${t.peakRssMiB} |`
    }),
  ]
  if (rssTable.length > 0) {
    lines.push(
      '',
      `Peak RSS of BatchSQL runs (narrow rows, 1 producer; bufferSize as each contender sets it: the default 10,000, 20,000 for SQLite flushSize 5000, 40,000 for COPY) under --max-old-space-size=${RSS_HEAP_MIB}:`,
      '',
      '| backend | contender | rows | rows/s | peak RSS MiB |',
      '|---|---|---|---|---|',
      ...rssTable.map(
        (t) =>
          `| ${t.backend} | ${t.contender} | ${fmt(t.rows)} | ${t.rowsPerSec === null ? `failed: ${t.error}` : fmt(t.rowsPerSec)} | ${t.peakRssMiB ?? ''} |`,
      ),
    )
  }
  const md = lines.join('\n')
  console.log(md)
  mkdirSync(REPORTS, { recursive: true })
  writeFileSync(
    join(REPORTS, 'bench.json'),
    `${JSON.stringify({ date: new Date().toISOString(), node: process.version, reps: REPS, rssHeapMiB: RSS_HEAP_MIB, table, rss: rssTable }, null, 2)}\n`,
  )
  writeFileSync(join(REPORTS, 'bench.md'), `${md}\n`)
  if (rssFailures.size > 0) process.exitCode = 1
}

main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
