// Runs every vitest project of the monorepo in one process and ends with the plain line
// `N passed, N failed` that CI reads. A run that executed no test, or skipped any, fails:
// in CI a missing server must be a red run, never a silently skipped suite.
import { spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync } from 'node:fs'

mkdirSync('reports', { recursive: true })
const out = 'reports/vitest-results.json'
const args = ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${out}`]
const run = spawnSync('pnpm', ['exec', ...args, ...process.argv.slice(2)], { stdio: 'inherit' })

let passed = 0
let failed = 0
let skipped = 0
let failedSuites = 0
try {
  const r = JSON.parse(readFileSync(out, 'utf8'))
  passed = r.numPassedTests
  failed = r.numFailedTests
  skipped = r.numPendingTests + r.numTodoTests
  failedSuites = r.numFailedTestSuites
} catch (e) {
  console.error(`test-all: no vitest results (${e.message})`)
  failed = Math.max(failed, 1)
}
if (failedSuites > 0 && failed === 0) failed = failedSuites
const problems = []
if (passed + failed === 0) problems.push('no test executed')
if (skipped > 0) problems.push(`${skipped} test(s) skipped: every suite must run`)
if (run.status !== 0 && failed === 0) problems.push(`vitest exited with ${run.status}`)
for (const p of problems) console.error(`test-all: ${p}`)
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`)
process.exit(failed > 0 || problems.length > 0 ? 1 : 0)
