import { spawn } from 'node:child_process'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { APP, tempDir } from './helpers.js'

describe('--processes 2, a second signal', () => {
  it('quits at once, and the producer processes end quietly (no IPC stack traces)', {
    timeout: 60_000,
  }, async () => {
    const dir = tempDir('second-signal')
    const app = spawn(process.execPath, [APP, '--processes', '2'], {
      env: {
        PATH: process.env.PATH ?? '',
        SQLITE_PATH: join(dir, 'app.sqlite'),
        REPORT_DIR: dir,
        PROMETHEUS_PORT: '0',
        PROGRESS: 'lines',
        SCENARIOS: 'high_throughput',
        RECORDS_PER_WORKER: '300000',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    let sent = false
    app.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout += c
      if (sent || !stdout.includes('sqlite/high_throughput')) return
      sent = true
      // Once the producer processes are writing: SIGTERM (passed on to them), then at once a
      // second one, on which the parent exits while they still settle their rows.
      setTimeout(() => {
        app.kill('SIGTERM')
        setTimeout(() => app.kill('SIGTERM'), 20)
      }, 800)
    })
    app.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c
    })
    const exited = new Promise<number | null>((r) => app.on('exit', (c) => r(c)))
    // The producer processes write to the same pipes: they are closed once those end too.
    const closed = new Promise((r) => app.on('close', r))
    const code = await exited
    await closed
    expect(code).toBe(143)
    expect(stderr).not.toMatch(/ERR_IPC_CHANNEL_CLOSED|EPIPE|Unhandled 'error'/)
    expect(stderr).toBe('')
    rmSync(dir, { recursive: true })
  })
})
