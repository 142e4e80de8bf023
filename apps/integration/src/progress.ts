/**
 * The live display: a cli-progress bar on a terminal, one plain line every 5 s otherwise
 * (CI logs), only the result lines with `--progress none`.
 */
import cliProgress from 'cli-progress'
import type { ScenarioResult, TimelinePoint } from './runner.js'
import { formatIntegrity } from './verify.js'

export interface Progress {
  start(label: string, total: number): void
  update(submitted: number, committed: number, point: TimelinePoint): void
  finish(r: ScenarioResult): void
  log(line: string): void
}

const fmt = (n: number) => n.toLocaleString('en-US')

/** The pipeline's own account of what failed (its `errors` stream), rows per reason. */
function reported(r: ScenarioResult): string {
  const entries = Object.entries(r.reportedFailures)
  if (entries.length === 0) return ''
  return `, failures reported: ${entries.map(([reason, rows]) => `${fmt(rows)} ${reason}`).join(', ')}`
}

export function summaryLine(r: ScenarioResult): string {
  const v = r.verification
  const status = r.passed ? 'PASS' : 'FAIL'
  return (
    `${status} ${r.database}/${r.scenario}: ${fmt(v.foundRows)}/${fmt(v.expectedRows)} rows, integrity ${formatIntegrity(v.integrityRate, 3)}%${v.missingRows + v.wrongRows + v.unexpectedRows + v.duplicateRows > 0 ? ` (${fmt(v.missingRows)} missing, ${fmt(v.wrongRows)} wrong, ${fmt(v.unexpectedRows)} unexpected, ${fmt(v.duplicateRows)} duplicated)` : ''}, ` +
    `submit ${fmt(r.submitRate)} rows/s, persisted ${r.persistedRate === null ? 'n/a' : `${fmt(r.persistedRate)} rows/s`}, ` +
    `p99 ${r.latencyMs.samples === 0 ? 'n/a' : `${r.latencyMs.p99.toFixed(1)} ms`}, peak RSS ${r.memory.peakRssMB} MB` +
    (r.poisonSubmitted > 0 ? `, poison ${r.poisonReported}/${r.poisonSubmitted} reported` : '') +
    (v.inDoubtRows > 0
      ? `, ${fmt(v.inDoubtRows)} reported of unknown outcome (${fmt(v.inDoubtFound)} of them written)`
      : '') +
    (r.fault ? `, fault: ${r.fault}` : '') +
    reported(r) +
    (r.problems.length > 0 ? `\n     ${r.problems.join('\n     ')}` : '')
  )
}

export function createProgress(mode: 'auto' | 'bar' | 'lines' | 'none'): Progress {
  const resolved = mode === 'auto' ? (process.stdout.isTTY ? 'bar' : 'lines') : mode
  if (resolved === 'bar') {
    const bar = new cliProgress.SingleBar(
      {
        format:
          '{label} [{bar}] {percentage}% | {value}/{total} rows | {rps} rows/s | RSS {rss} MB',
        hideCursor: true,
        clearOnComplete: true,
      },
      cliProgress.Presets.shades_classic,
    )
    return {
      start: (label, total) => bar.start(total, 0, { label, rps: 0, rss: 0 }),
      update: (submitted, _c, p) => bar.update(submitted, { rps: fmt(p.commitRps), rss: p.rssMB }),
      finish(r) {
        bar.stop()
        console.log(summaryLine(r))
      },
      log: (line) => console.log(line),
    }
  }
  if (resolved === 'lines') {
    let label = ''
    let total = 0
    let last = 0
    return {
      start(l, t) {
        label = l
        total = t
        last = Date.now()
        console.log(`… ${label}: ${fmt(total)} rows`)
      },
      update(submitted, committed, p) {
        if (Date.now() - last < 5000) return
        last = Date.now()
        console.log(
          `  ${label}: ${fmt(submitted)}/${fmt(total)} submitted, ${fmt(committed)} committed, ${fmt(p.commitRps)} rows/s, RSS ${p.rssMB} MB`,
        )
      },
      finish: (r) => console.log(summaryLine(r)),
      log: (line) => console.log(line),
    }
  }
  return {
    start() {},
    update() {},
    finish: (r) => console.log(summaryLine(r)),
    log: (line) => console.log(line),
  }
}
