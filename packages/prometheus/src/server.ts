/**
 * `/metrics` and `/health` on node:http (no framework: two routes do not need one), and a
 * handler to mount in your own server.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface MetricsSource {
  metrics(openMetrics?: boolean): Promise<string>
  contentType(openMetrics?: boolean): string
}

/** `(req, res)` serving the metrics: mount it at `/metrics` in your own http / express app. */
export function metricsHandler(
  source: MetricsSource,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const openMetrics = /application\/openmetrics-text/.test(req.headers.accept ?? '')
    source.metrics(openMetrics).then(
      (text) => {
        res.writeHead(200, { 'Content-Type': source.contentType(openMetrics) })
        res.end(req.method === 'HEAD' ? undefined : text)
      },
      (err: Error) => {
        res.writeHead(500, { 'Content-Type': 'text/plain' })
        res.end(`metrics collection failed: ${err.message}\n`)
      },
    )
  }
}

export class MetricsServer {
  private readonly server: Server

  constructor(source: MetricsSource) {
    const metrics = metricsHandler(source)
    this.server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0]
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { Allow: 'GET, HEAD' }).end()
      } else if (path === '/metrics') {
        metrics(req, res)
      } else if (path === '/health' || path === '/healthz') {
        res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok\n')
      } else {
        res
          .writeHead(404, { 'Content-Type': 'text/plain' })
          .end('not found: try /metrics or /health\n')
      }
    })
    // Scrapes are short; do not let idle keep-alive sockets hold the process open.
    this.server.keepAliveTimeout = 5_000
  }

  listen(port: number, host: string): Promise<{ port: number; url: string }> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen(port, host, () => {
        this.server.off('error', reject)
        const { port: bound } = this.server.address() as AddressInfo
        resolve({
          port: bound,
          url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}/metrics`,
        })
      })
    })
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve())
      this.server.closeAllConnections()
    })
  }
}
