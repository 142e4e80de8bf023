import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import * as installed from 'pg-copy-streams'
import { afterAll, describe, expect, it } from 'vitest'
import { copyFromOf } from '../src/copy.js'

const ROOT = fileURLToPath(new URL('../../..', import.meta.url))
const COPY_TS = fileURLToPath(new URL('../src/copy.ts', import.meta.url))
const dir = mkdtempSync(join(tmpdir(), 'batchsql-copy-streams-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('pg-copy-streams versions the peer range admits', () => {
  it('6.0.0-6.0.4: from() is found on the default export of their object-literal module', async () => {
    // Their index.js, in shape: Node's CommonJS detection finds `to` only, so a named import
    // of `from` was undefined and every COPY batch failed with a TypeError.
    const file = join(dir, 'index.cjs')
    writeFileSync(
      file,
      'module.exports = {\n  to: function (txt, options) { return "to" },\n  from: function (txt, options) { return "from" },\n  both: function (txt, options) { return "both" },\n}\n',
    )
    // In a plain Node process: vitest's own module loader would find every name.
    const probe = [
      `const m = await import(${JSON.stringify(pathToFileURL(file).href)})`,
      `const { copyFromOf } = await import(${JSON.stringify(pathToFileURL(COPY_TS).href)})`,
      'console.log(JSON.stringify({ named: typeof m.from, found: copyFromOf(m)("COPY t FROM STDIN") }))',
    ].join('\n')
    const out = execFileSync(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', probe],
      { cwd: ROOT, encoding: 'utf8' },
    )
    expect(JSON.parse(out)).toEqual({ named: 'undefined', found: 'from' })
  })

  it('the installed version (named exports) and a module without from()', () => {
    expect(copyFromOf(installed)).toBe(installed.from)
    expect(() => copyFromOf({ to: () => {} })).toThrow(
      expect.objectContaining({ code: 'BATCHSQL_INVALID_CONFIG' }),
    )
  })
})
