import { spawnSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'

// The bundler renames a class that names itself in its body (`class _BatchFailedError`) or
// whose name an import already takes (`PostgresAdapter2`, next to Kysely's PostgresAdapter),
// and that name reached `err.name`, stack traces and logs. The sources avoid both (tsup's
// `keepNames` would too, but it wraps every closure in a naming call each time one is made,
// hot paths included). Checked on the built packages, in a plain node process, as an
// application imports them.
const entries = [
  '@batchsql/core',
  '@batchsql/core/testing',
  '@batchsql/kysely',
  '@batchsql/postgres',
  '@batchsql/mysql',
  '@batchsql/sqlite',
  '@batchsql/redis',
  '@batchsql/prometheus',
  '@batchsql/conformance',
]

describe('published builds', () => {
  it.each(entries)('%s: every exported class is named as it is exported', (specifier) => {
    const script = `
      const m = await import(${JSON.stringify(specifier)})
      const classes = Object.entries(m).filter(([, v]) => typeof v === 'function' && /^class\\b/.test(Function.prototype.toString.call(v)))
      process.stdout.write(JSON.stringify({ count: classes.length, wrong: classes.filter(([k, v]) => v.name !== k).map(([k, v]) => k + ' is named ' + v.name) }))`
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: import.meta.dirname,
      encoding: 'utf8',
    })
    expect(r.stderr).toBe('')
    const { count, wrong } = JSON.parse(r.stdout) as { count: number; wrong: string[] }
    expect(wrong).toEqual([])
    if (specifier === '@batchsql/core') expect(count).toBeGreaterThan(5) // the error classes at least
  })

  it('an error BatchSQL reports has its class name', async () => {
    const { BatchFailedError } = await import('@batchsql/core')
    const err = BatchFailedError.outcomeUnknown('t', 'connection', 1, 1, new Error('x'))
    expect(err.name).toBe('BatchFailedError')
    expect(String(err.stack)).toMatch(/^BatchFailedError: /)
  })
})
