import { spawn } from 'node:child_process'
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { join, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { tempDir } from './helpers.js'

const SCRIPT = resolve(
  import.meta.dirname,
  '../../../scripts/run-integration-tests-with-monitoring.sh',
)

function executable(file: string, text: string): void {
  writeFileSync(file, text)
  chmodSync(file, 0o755)
}

describe('scripts/run-integration-tests-with-monitoring.sh (no Docker)', () => {
  it('stops with a clear message and a failing exit code when Prometheus does not start', {
    timeout: 60_000,
  }, async () => {
    const dir = tempDir('monitoring-script')
    // A Prometheus that exits at once, as with a bad flag or its port taken.
    const bin = join(dir, 'bin')
    mkdirSync(bin)
    executable(
      join(bin, 'prometheus'),
      '#!/bin/sh\necho "err: listen tcp 127.0.0.1:9092: address already in use" >&2\nexit 1\n',
    )
    // The tools folder the script takes Node and pnpm from: this Node, and a pnpm that only
    // notes that it was called (the run that should not happen).
    const tools = join(dir, 'tools')
    const arch = process.arch === 'arm64' ? 'arm64' : 'x64'
    const nodeBin = join(tools, `node/node_modules/node/node_modules/node-linux-${arch}/bin`)
    mkdirSync(nodeBin, { recursive: true })
    symlinkSync(process.execPath, join(nodeBin, 'node'))
    const pnpmBin = join(tools, 'pnpm/node_modules/.bin')
    mkdirSync(pnpmBin, { recursive: true })
    const calls = join(dir, 'pnpm-calls')
    executable(join(pnpmBin, 'pnpm'), `#!/bin/sh\necho "$*" >> '${calls}'\n`)
    const run = spawn('bash', [SCRIPT], {
      env: {
        // No /usr/local/bin: no Docker, whatever this machine has.
        PATH: `${bin}:/usr/sbin:/usr/bin:/sbin:/bin`,
        HOME: process.env.HOME ?? '/tmp',
        BATCHSQL_TOOLS: tools,
        BATCHSQL_MONITORING_DATA: join(dir, 'data'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stderr = ''
    run.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c
    })
    run.stdout.resume()
    const code = await new Promise<number | null>((r) => run.on('close', (c) => r(c)))
    expect(stderr).toMatch(/prometheus failed to start \(log: .*prometheus\.log\)/)
    expect(stderr).toContain('address already in use')
    expect(code).toBe(1)
    // The app did not run without the metrics it was started for.
    expect(existsSync(calls) ? readFileSync(calls, 'utf8') : '').toBe('')
    expect(existsSync(join(dir, 'data/prometheus.pid'))).toBe(false)
    rmSync(dir, { recursive: true })
  })
})
