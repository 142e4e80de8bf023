/**
 * A self-contained HTML report: Chart.js is inlined (no network needed to open it), the
 * data is embedded as JSON. Charts: rows/s over time, commit latency percentiles, memory
 * over time, integrity per scenario; and the results table.
 */
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { formatIntegrity } from '../verify.js'
import type { RunReport } from './model.js'

const require = createRequire(import.meta.url)

function chartJsSource(): string {
  // chart.js's `exports` map hides dist/; its main entry lives next to the UMD build.
  return readFileSync(join(dirname(require.resolve('chart.js')), 'chart.umd.min.js'), 'utf8')
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
// JSON inside <script>: `<` escaped so no string can close the script element.
const embedJson = (v: unknown) => JSON.stringify(v).replace(/</g, '\\u003c')

/**
 * The problems of a failed scenario; else its fault and the rows of unknown outcome, if any;
 * and the failures the pipeline reported, per reason.
 */
function notes(r: RunReport['results'][number]): string {
  const reported = Object.entries(r.reportedFailures ?? {})
  const failures =
    reported.length > 0
      ? `failures reported: ${reported.map(([reason, rows]) => `${rows} ${reason}`).join(', ')}`
      : ''
  if (r.problems.length > 0) return [...r.problems, failures].filter((x) => x !== '').join('; ')
  const v = r.verification
  const doubt =
    v.inDoubtRows > 0 ? `${v.inDoubtRows} of unknown outcome, ${v.inDoubtFound} written` : ''
  return [r.fault ?? '', doubt, failures].filter((x) => x !== '').join('; ')
}

export function renderHtml(report: RunReport): string {
  const rows = report.results
    .map(
      (
        r,
      ) => `<tr class="${r.passed ? 'pass' : 'fail'}"><td>${escapeHtml(r.database)}</td><td>${escapeHtml(r.scenario)}</td>
<td>${r.passed ? 'PASS' : 'FAIL'}</td><td>${r.verification.foundRows}/${r.verification.expectedRows}</td>
<td>${formatIntegrity(r.verification.integrityRate, 2)}%</td><td>${r.submitRate}</td><td>${r.persistedRate ?? 'n/a'}</td>
<td>${r.latencyMs.samples === 0 ? 'n/a (no per-row acknowledgement)' : `${r.latencyMs.p50.toFixed(1)} / ${r.latencyMs.p95.toFixed(1)} / ${r.latencyMs.p99.toFixed(1)}`}</td>
<td>${r.memory.peakRssMB}</td><td>${r.gc.count}</td><td>${escapeHtml(notes(r))}</td></tr>`,
    )
    .join('\n')
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>BatchSQL integration report</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem;color:#222}
table{border-collapse:collapse;font-size:.85rem}td,th{border:1px solid #ccc;padding:.3rem .5rem;text-align:right}
td:nth-child(-n+3),th{text-align:left}tr.fail{background:#fdd}tr.pass td:nth-child(3){color:#070}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(480px,1fr));gap:1.5rem;margin:1.5rem 0}
.chart{height:320px}
</style></head><body>
<h1>BatchSQL integration report: ${report.passed ? 'PASS' : 'FAIL'}${report.interrupted ? ` (interrupted by ${report.interrupted})` : ''}</h1>
<p>${escapeHtml(report.generatedAt)} · ${report.results.length} scenario(s) · ${report.durationSeconds} s ·
Node ${escapeHtml(report.machine.node)} · ${report.machine.cpus} CPUs · ${report.machine.totalMemoryMB} MB</p>
<p>Submit rate: rows accepted ÷ time from the first submit to the last. Persisted rate: rows acknowledged committed
(an upsert of a key written before counts: it is a write) ÷ time from the first submit until <code>close()</code>
resolved, shown only when the database holds exactly what was expected (100% integrity).</p>
<table><thead><tr><th>database</th><th>scenario</th><th>result</th><th>rows found/expected</th><th>integrity</th>
<th>submit rows/s</th><th>persisted rows/s</th><th>latency p50/p95/p99 ms</th><th>peak RSS MB</th><th>GCs</th><th>notes</th></tr></thead>
<tbody>
${rows}
${report.notRun
  .map(
    (u) =>
      `<tr class="fail"><td>${escapeHtml(u.database)}</td><td>${escapeHtml(u.scenario ?? '(every scenario)')}</td><td>FAIL</td><td colspan="8">${u.ran ? 'not verified' : 'did not run'}: ${escapeHtml(u.error)}</td></tr>`,
  )
  .join('\n')}
</tbody></table>
<div class="charts">
<div class="chart"><canvas id="rps"></canvas></div>
<div class="chart"><canvas id="latency"></canvas></div>
<div class="chart"><canvas id="memory"></canvas></div>
<div class="chart"><canvas id="integrity"></canvas></div>
</div>
<script>${chartJsSource()}</script>
<script>
const report = ${embedJson(report)};
const label = (r) => r.database + '/' + r.scenario;
// Lines without points, except for a series of one sample: a line needs two, and with no
// point it would not be drawn at all (a scenario shorter than the 1 s sampling interval).
const series = (key) => report.results.map((r) => ({ label: label(r), data: r.timeline.map((p) => ({ x: p.t, y: p[key] })), pointRadius: r.timeline.length === 1 ? 3 : 0, borderWidth: 1.5 }));
const linear = (title, y) => ({ responsive: true, maintainAspectRatio: false, animation: false, parsing: true,
  plugins: { title: { display: true, text: title }, legend: { labels: { boxWidth: 10, font: { size: 10 } } } },
  scales: { x: { type: 'linear', title: { display: true, text: 'seconds into scenario' } }, y: { beginAtZero: true, title: { display: true, text: y } } } });
window.charts = [
  new Chart(document.getElementById('rps'), { type: 'line', data: { datasets: series('commitRps') }, options: linear('Rows committed per second', 'rows/s') }),
  new Chart(document.getElementById('latency'), { type: 'bar', data: { labels: report.results.map(label), datasets: ['p50', 'p95', 'p99'].map((p) => ({ label: p, data: report.results.map((r) => r.latencyMs[p]) })) },
    options: { responsive: true, maintainAspectRatio: false, animation: false, plugins: { title: { display: true, text: 'Submit-to-commit latency (ms)' } } } }),
  new Chart(document.getElementById('memory'), { type: 'line', data: { datasets: series('rssMB') }, options: linear('Resident memory', 'MB') }),
  new Chart(document.getElementById('integrity'), { type: 'bar', data: { labels: report.results.map(label), datasets: [{ label: 'integrity %', data: report.results.map((r) => r.verification.integrityRate),
    backgroundColor: report.results.map((r) => (r.passed ? '#4caf50' : '#e53935')) }] },
    options: { responsive: true, maintainAspectRatio: false, animation: false, plugins: { title: { display: true, text: 'Data integrity per scenario (%)' } }, scales: { y: { min: 0, max: 100 } } } }),
];
document.body.dataset.charts = String(window.charts.length);
</script>
</body></html>
`
}
