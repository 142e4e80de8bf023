import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { PrometheusMetrics } from '../src/index.js'
import { batchRun } from './run.js'

const PROMETHEUS = process.env.PROMETHEUS_BIN ?? 'prometheus'

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number }
      s.close(() => resolve(port))
    })
  })
}

const dir = mkdtempSync(join(tmpdir(), 'batchsql-prom-'))
let proc: ChildProcess | undefined
const reporter = new PrometheusMetrics({ defaultMetrics: true })
afterAll(async () => {
  proc?.kill('SIGTERM')
  await reporter.stopServer()
  rmSync(dir, { recursive: true, force: true })
})

describe('a real Prometheus server', () => {
  it('scrapes the endpoint and answers queries over its HTTP API', {
    timeout: 60_000,
  }, async () => {
    reporter.setCurrentTestCase('scrape')
    await batchRun(reporter)
    const { port } = await reporter.startServer(0)
    const promPort = await freePort()
    writeFileSync(
      join(dir, 'prometheus.yml'),
      `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: batchsql\n    static_configs:\n      - targets: ['127.0.0.1:${port}']\n`,
    )
    proc = spawn(
      PROMETHEUS,
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
      ],
      { stdio: 'ignore' },
    )
    const query = async (q: string) => {
      const res = await fetch(
        `http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(q)}`,
      )
      return (await res.json()) as {
        status: string
        data: { result: { metric: Record<string, string>; value: [number, string] }[] }
      }
    }
    let result: Awaited<ReturnType<typeof query>> | undefined
    for (let i = 0; i < 100; i++) {
      try {
        result = await query('batchsql_records_processed_total')
        if (result.data.result.length > 0) break
      } catch {
        // Prometheus not up yet
      }
      await new Promise((r) => setTimeout(r, 300))
    }
    expect(result?.status).toBe('success')
    expect(result!.data.result).toHaveLength(1)
    expect(result!.data.result[0]!.metric).toMatchObject({
      database: 'mockdb',
      table: 'events',
      test_case: 'scrape',
      job: 'batchsql',
    })
    expect(Number(result!.data.result[0]!.value[1])).toBe(1000)
    const up = await query('up{job="batchsql"}')
    expect(up.data.result[0]!.value[1]).toBe('1')
  })
})
