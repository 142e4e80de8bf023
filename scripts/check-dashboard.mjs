#!/usr/bin/env node
/**
 * Checks the Grafana dashboard without Grafana (there is none on this machine):
 *   - its structure: panels with unique ids and positions, every target on the Prometheus
 *     data source with a query, the `database` and `test_case` variables, the required panels;
 *   - with --prometheus URL: every PromQL expression, variables expanded as "All" would,
 *     evaluated through Prometheus's HTTP API; each must return data.
 * Usage: node scripts/check-dashboard.mjs [--prometheus http://127.0.0.1:9092] [dashboard.json]
 * Exits 1 on any problem. The functions are exported for the integration tests.
 */
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const DEFAULT_DASHBOARD = join(
  dirname(fileURLToPath(import.meta.url)),
  '../monitoring/grafana/dashboards/batchsql-performance.json',
)

/** Panel titles the issue requires: the guide's seven and the pipeline-stage ones. */
export const REQUIRED_PANELS = [
  'RPS per test case',
  'Batch execution duration (p50 / p95 / p99)',
  'Memory usage',
  'Data integrity',
  'Batch execution rate',
  'Records processing rate',
  'Test success',
  'Enqueue latency (p95, p99)',
  'Queue length',
  'In-flight batches',
  'Retries vs final failures',
]

function dataPanels(dashboard) {
  return (dashboard.panels ?? []).flatMap((p) => (p.type === 'row' ? (p.panels ?? []) : [p]))
}

/** Problems with the dashboard's structure (empty when it is fine). */
export function checkDashboardStructure(dashboard) {
  const problems = []
  if (dashboard.uid !== 'batchsql-performance')
    problems.push(`uid is "${dashboard.uid}", expected "batchsql-performance"`)
  const all = dashboard.panels ?? []
  const ids = new Set()
  for (const p of all) {
    if (typeof p.id !== 'number') problems.push(`panel "${p.title}" has no numeric id`)
    else if (ids.has(p.id)) problems.push(`panel id ${p.id} is used twice`)
    ids.add(p.id)
    const g = p.gridPos
    if (!g || ![g.x, g.y, g.w, g.h].every(Number.isInteger) || g.x < 0 || g.x + g.w > 24)
      problems.push(`panel "${p.title}" has no valid gridPos`)
  }
  const panels = dataPanels(dashboard)
  for (const p of panels) {
    if (!p.type) problems.push(`panel "${p.title}" has no type`)
    if (!Array.isArray(p.targets) || p.targets.length === 0)
      problems.push(`panel "${p.title}" has no targets`)
    for (const t of p.targets ?? []) {
      const ds = t.datasource ?? p.datasource
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's datasource variable, literally
      if (!ds || (ds.uid !== 'prometheus' && ds.uid !== '${datasource}'))
        problems.push(`panel "${p.title}" target ${t.refId}: datasource is not the Prometheus one`)
      if (typeof t.expr !== 'string' || t.expr.trim() === '')
        problems.push(`panel "${p.title}" target ${t.refId}: empty expr`)
    }
  }
  for (const p of panels)
    for (const t of p.targets ?? [])
      for (const q of promqlProblems(t.expr ?? ''))
        problems.push(`panel "${p.title}" target ${t.refId}: ${q}`)
  const titles = new Set(panels.map((p) => p.title))
  for (const t of REQUIRED_PANELS)
    if (!titles.has(t)) problems.push(`required panel "${t}" is missing`)
  const vars = new Map((dashboard.templating?.list ?? []).map((v) => [v.name, v]))
  for (const name of ['database', 'test_case']) {
    const v = vars.get(name)
    if (!v) problems.push(`variable "${name}" is missing`)
    else if (
      v.datasource?.uid !== 'prometheus' ||
      !String(v.definition ?? v.query?.query ?? '').includes('label_values')
    ) {
      problems.push(`variable "${name}" is not a label_values query on the Prometheus data source`)
    }
  }
  return problems
}

/**
 * Mistakes a query can make that Prometheus would still answer (so evaluating it cannot tell):
 * rate() / irate() / increase() of a series that is not a counter (a gauge, or a histogram's
 * name without _bucket / _sum / _count), and a histogram_quantile() whose sum drops `le`.
 * Names are ours (`batchsql_`); counters end in _total, as the README's table says.
 */
export function promqlProblems(expr) {
  const problems = []
  for (const m of expr.matchAll(/\b(rate|irate|increase)\(\s*(batchsql_[a-z_]+)/g)) {
    if (!/_(total|bucket|sum|count)$/.test(m[2]))
      problems.push(`${m[1]}() of ${m[2]}, which is not a counter`)
  }
  for (const m of expr.matchAll(
    /histogram_quantile\([^,]+,\s*sum\s+by\s*\(([^)]*)\)\s*\(\s*rate\(\s*(batchsql_[a-z_]+)/g,
  )) {
    if (
      !m[1]
        .split(',')
        .map((l) => l.trim())
        .includes('le')
    )
      problems.push(`histogram_quantile() over ${m[2]} sums \`le\` away`)
    if (!m[2].endsWith('_bucket'))
      problems.push(`histogram_quantile() over ${m[2]}, not a _bucket series`)
  }
  return problems
}

/** Every PromQL expression, with Grafana's variables expanded as "All" and a 5-minute range. */
export function dashboardExprs(dashboard) {
  const out = []
  for (const p of dataPanels(dashboard)) {
    for (const t of p.targets ?? []) {
      out.push(
        t.expr
          .replaceAll('$__rate_interval', '5m')
          .replaceAll('$__interval', '1m')
          .replaceAll('$__range', '5m')
          .replace(/\$\{?(database|test_case)\}?/g, '.*'),
      )
    }
  }
  return out
}

/** Evaluates each expression on Prometheus; returns the ones that fail or return no data. */
export async function evaluateExprs(prometheusUrl, exprs) {
  const problems = []
  for (const expr of exprs) {
    try {
      const res = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(expr)}`)
      const body = await res.json()
      if (body.status !== 'success')
        problems.push({ expr, problem: `${body.errorType}: ${body.error}` })
      else if (body.data.result.length === 0) problems.push({ expr, problem: 'no data' })
    } catch (err) {
      problems.push({ expr, problem: String(err) })
    }
  }
  return problems
}

async function main(argv) {
  const i = argv.indexOf('--prometheus')
  const prometheus = i >= 0 ? argv[i + 1] : undefined
  const file =
    argv.find((a, j) => a.endsWith('.json') && argv[j - 1] !== '--prometheus') ?? DEFAULT_DASHBOARD
  const dashboard = JSON.parse(readFileSync(file, 'utf8'))
  const problems = checkDashboardStructure(dashboard)
  for (const p of problems) console.log(`structure: ${p}`)
  const exprs = dashboardExprs(dashboard)
  let failed = problems.length
  if (prometheus) {
    const bad = await evaluateExprs(prometheus, exprs)
    for (const b of bad) console.log(`query: ${b.problem}: ${b.expr}`)
    failed += bad.length
    console.log(
      `${exprs.length - bad.length}/${exprs.length} queries returned data on ${prometheus}`,
    )
  }
  console.log(failed === 0 ? `dashboard OK (${exprs.length} queries)` : `${failed} problem(s)`)
  return failed === 0 ? 0 : 1
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).then((code) => process.exit(code))
}
