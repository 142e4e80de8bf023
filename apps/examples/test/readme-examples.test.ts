import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import ts from 'typescript'
import { afterAll, describe, expect, it } from 'vitest'
import { type Example, expectedOutputs, matchInOrder, readExample } from './readme.js'

// Each package README promises an example that is "runnable as is". Here it is run as a user
// would: its code block saved as a .mjs file and run by node, resolving packages from this
// app's node_modules (which holds what the READMEs' install lines add), against the real
// servers. The output it documents in `console.log(…) // expected` comments must appear.
const root = resolve(import.meta.dirname, '../../..')
const runDir = resolve(import.meta.dirname, '../.run')
const scratch = mkdtempSync(join(tmpdir(), 'batchsql-examples-'))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/**
 * Runs an example in a fresh working directory. `until`, for an example that serves until it is
 * stopped: called on each stdout chunk, it may return a check to run while the example is still
 * up; the example is then stopped with SIGINT, as its user would with Ctrl-C.
 */
function run(
  name: string,
  ex: Example,
  until?: (stdout: string) => (() => Promise<void>) | undefined,
): Promise<Run & { checked: boolean }> {
  mkdirSync(runDir, { recursive: true })
  const file = join(runDir, `${name}.mjs`)
  writeFileSync(file, ex.code)
  const cwd = mkdtempSync(join(scratch, `${name}-`))
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [file], { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    let checked = false
    let checking: Promise<void> | undefined
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
    child.stdout.on('data', (d: Buffer) => {
      stdout += d
      const check = checking === undefined ? until?.(stdout) : undefined
      if (check === undefined) return
      checking = check().then(
        () => {
          checked = true
          child.kill('SIGINT')
        },
        (e: unknown) => {
          child.kill('SIGKILL')
          fail(e)
        },
      )
    })
    child.stderr.on('data', (d: Buffer) => {
      stderr += d
    })
    child.on('error', fail)
    child.on('close', (code) => {
      clearTimeout(timer)
      done({ code, stdout, stderr, checked })
    })
  })
}

/** The example ends on its own, silent on stderr, and prints what its comments say it prints. */
async function runToEnd(name: string, ex: Example): Promise<string> {
  const r = await run(name, ex)
  expect(r.stderr).toBe('')
  expect(r.code).toBe(0)
  const expected = expectedOutputs(ex.code)
  expect(matchInOrder(r.stdout, expected)).toEqual(expected)
  return r.stdout
}

const readme = (pkg: string) => readExample(join(root, 'packages', pkg, 'README.md'))

describe('README examples run as is', () => {
  it('every package README with an example installs what the example imports', () => {
    for (const pkg of ['core', 'postgres', 'mysql', 'sqlite', 'redis', 'prometheus']) {
      const ex = readme(pkg)
      expect(ex.imports.length, pkg).toBeGreaterThan(0)
      // A user who runs the README's `pnpm add` lines has every package the example imports.
      expect(
        ex.imports.filter((i) => !ex.installs.includes(i)),
        pkg,
      ).toEqual([])
    }
  })

  it('every example type-checks as a strict `// @ts-check` user would check it', () => {
    // The examples are JavaScript; an editor with checkJs and strict flags an untyped
    // parameter (implicit any) the reader would then have to annotate themselves.
    const dir = join(runDir, 'checked')
    mkdirSync(dir, { recursive: true })
    const pkgs = ['core', 'postgres', 'mysql', 'sqlite', 'redis', 'prometheus']
    const files = pkgs.map((pkg) => {
      const file = join(dir, `${pkg}.mjs`)
      writeFileSync(file, readme(pkg).code)
      return file
    })
    const program = ts.createProgram(files, {
      allowJs: true,
      checkJs: true,
      strict: true,
      noEmit: true,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2023,
      skipLibCheck: true,
      types: ['node'],
      typeRoots: [join(root, 'node_modules/@types')],
    })
    const problems = ts
      .getPreEmitDiagnostics(program)
      .map(
        (d) =>
          `${d.file ? d.file.fileName.slice(dir.length + 1) : ''}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`,
      )
    expect(problems).toEqual([])
  })

  it('core: every submitted row reaches the sink', async () => {
    const ex = readme('core')
    const out = await runToEnd('core', ex)
    const rows = (table: string) =>
      [...out.matchAll(new RegExp(`^${table}: (\\d+) row\\(s\\)$`, 'gm'))].reduce(
        (n, m) => n + Number(m[1]),
        0,
      )
    expect({ events: rows('events'), users: rows('users') }).toEqual({ events: 1202, users: 2 })
  })

  it.each(['postgres', 'mysql', 'sqlite', 'redis'])('%s', async (pkg) => {
    const ex = readme(pkg)
    expect(expectedOutputs(ex.code).length).toBeGreaterThan(0)
    await runToEnd(pkg, ex)
  })

  it('prometheus: serves the rows it counted until stopped', async () => {
    const ex = readme('prometheus')
    let scraped = ''
    const r = await run('prometheus', ex, (stdout) => {
      const url = /^scrape (http:\/\/\S+);/m.exec(stdout)?.[1]
      if (url === undefined) return undefined
      return async () => {
        scraped = await (await fetch(url)).text()
      }
    })
    expect(r.stderr).toBe('')
    expect(r.checked).toBe(true)
    // What the example printed and what its server served: 5,000 rows committed.
    const committed = /^batchsql_records_processed_total\{[^}]*\} (\d+)$/m
    expect(committed.exec(r.stdout)?.[1]).toBe('5000')
    expect(committed.exec(scraped)?.[1]).toBe('5000')
    expect(scraped).toMatch(/service="example"/)
  })
})
