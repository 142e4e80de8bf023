import { spawnSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'

// The packages are ESM, without top-level await, so Node >= 22.12 can `require()` them; that
// needs a `default` condition in each exports map (an `import`-only map fails with
// ERR_PACKAGE_PATH_NOT_EXPORTED). Checked in a plain CommonJS node process, as a CommonJS
// application would load them.
const entries: Record<string, string> = {
  '@batchsql/core': 'createBatchSQL',
  '@batchsql/core/testing': 'MockExecutor',
  '@batchsql/kysely': 'createKyselyBatchSQL',
  '@batchsql/postgres': 'createPostgresBatchSQL',
  '@batchsql/mysql': 'createMysqlBatchSQL',
  '@batchsql/sqlite': 'createSqliteBatchSQL',
  '@batchsql/redis': 'createRedisBatchSQL',
  '@batchsql/prometheus': 'PrometheusMetrics',
  '@batchsql/conformance': 'ReplyCutter',
}

describe('CommonJS consumers', () => {
  it.each(Object.entries(entries))('require(%s) loads its exports', (specifier, name) => {
    const script = `process.stdout.write(typeof require(${JSON.stringify(specifier)})[${JSON.stringify(name)}])`
    const r = spawnSync(process.execPath, ['--input-type=commonjs', '-e', script], {
      cwd: import.meta.dirname,
      encoding: 'utf8',
    })
    expect(r.stderr).toBe('')
    expect(r.stdout).toBe('function')
  })
})
