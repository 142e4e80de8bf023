import { readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { createConnection, createServer, type Server, type Socket } from 'node:net'

/**
 * A TCP proxy in front of a database server that can drop a reply: armed with `cutNextReply()`,
 * it closes both sides of a connection as soon as the server starts answering, so the client
 * sees its connection lost while the server has already done the work (committed an
 * autocommit INSERT, say). Why a proxy: killing the server's session makes the server reply
 * with an error first, which proves the statement failed; only a reply lost on the way leaves
 * the outcome unknown, as a network partition or a crashing proxy does in production.
 */
export class ReplyCutter {
  private server: Server | undefined
  /** Replies still to let through before the one to drop; -1 when not armed. */
  private skip = -1
  /** When set, the cut is armed by the first client message matching it. */
  private trigger: RegExp | undefined
  private readonly sockets = new Set<Socket>()
  /** When set, new connections are reset at once (the server unreachable). */
  private refusing = false
  /** When set, nothing is forwarded either way and connections stay open (a paused server). */
  private hanging = false
  /** Client connections (the pipeline's) still open. */
  private readonly clients = new Set<Socket>()
  /** Bytes a client sent while the server hung: the statements it never got. */
  heldBytes = 0
  /** The port it listens on, once listening. */
  private port = 0
  /** Replies dropped so far. */
  cuts = 0

  constructor(
    private readonly upstreamHost: string,
    private readonly upstreamPort: number,
  ) {}

  /** Starts listening on an ephemeral port of 127.0.0.1; resolves with that port. */
  async listen(): Promise<number> {
    // Half-open allowed, each side's end forwarded by hand: a paused server (hang()) never
    // closes a connection a client only ended (a FIN), which then stays open on the client,
    // as it would against the real server.
    const server = createServer({ allowHalfOpen: true }, (client) => {
      if (this.refusing) {
        client.resetAndDestroy()
        return
      }
      const upstream = createConnection({
        port: this.upstreamPort,
        host: this.upstreamHost,
        allowHalfOpen: true,
      })
      this.sockets.add(client).add(upstream)
      this.clients.add(client)
      const drop = () => {
        client.destroy()
        upstream.destroy()
        this.sockets.delete(client)
        this.sockets.delete(upstream)
        this.clients.delete(client)
      }
      client.on('data', (d: Buffer) => {
        if (this.hanging) {
          this.heldBytes += d.length
          return
        }
        if (this.trigger?.test(d.toString('latin1'))) {
          this.trigger = undefined
          this.skip = 0
        }
        upstream.write(d)
      })
      upstream.on('data', (d) => {
        if (this.hanging) return
        if (this.skip === 0) {
          this.skip = -1
          this.cuts++
          drop()
          return
        }
        if (this.skip > 0) this.skip--
        client.write(d)
      })
      client.on('end', () => {
        if (!this.hanging) {
          upstream.end()
          return
        }
      })
      upstream.on('end', () => {
        if (!this.hanging) client.end()
      })
      client.on('close', drop).on('error', drop)
      upstream.on('close', drop).on('error', drop)
    })
    this.server = server
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const address = server.address()
    if (address === null || typeof address === 'string') throw new Error('no port')
    this.port = address.port
    return address.port
  }

  /**
   * The next reply from the server (after letting `skip` replies through), on any connection,
   * is dropped with its connection. A reply is one chunk of data as it arrives.
   */
  cutNextReply(skip = 0): void {
    this.skip = skip
  }

  /**
   * Drops the server's reply to the first client message matching `pattern` (e.g. /commit/i:
   * the reply to a COMMIT), with its connection.
   */
  cutReplyTo(pattern: RegExp): void {
    this.trigger = pattern
  }

  /** While on, every new connection is reset as it arrives: the server looks unreachable. */
  refuseConnections(on: boolean): void {
    this.refusing = on
  }

  /**
   * While on, the server looks paused (SIGSTOP, a partition that drops packets): nothing is
   * forwarded either way, no connection is closed, and what clients send is lost.
   */
  hang(on: boolean): void {
    this.hanging = on
  }

  /**
   * Client connections the proxy still holds open. While the server hangs a client's FIN is
   * not answered, so a client that closed its socket and one that only half-closed it (which
   * keeps its process alive) both count: see `socketsHere()`.
   */
  get openClients(): number {
    return this.clients.size
  }

  /**
   * Sockets of this process connected to the proxy, from the kernel's tables (Linux's /proc),
   * whatever state the proxy sees them in: a half-closed socket still counts, a closed one does
   * not. Undefined where /proc is not there: use `openClients`.
   */
  socketsHere(): number | undefined {
    let links: string[]
    try {
      links = readdirSync('/proc/self/fd').map((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`)
        } catch {
          return ''
        }
      })
    } catch {
      return undefined
    }
    const inodes = new Set(links.filter((l) => l.startsWith('socket:[')).map((l) => l.slice(8, -1)))
    let n = 0
    for (const table of ['/proc/self/net/tcp', '/proc/self/net/tcp6']) {
      let text: string
      try {
        text = readFileSync(table, 'utf8')
      } catch {
        continue
      }
      for (const line of text.split('\n').slice(1)) {
        const f = line.trim().split(/\s+/)
        if (f.length < 10) continue
        const remotePort = Number.parseInt(f[2]!.split(':').pop()!, 16)
        if (remotePort === this.port && inodes.has(f[9]!)) n++
      }
    }
    return n
  }

  /** Cancels a cut that has not happened. */
  disarm(): void {
    this.skip = -1
    this.trigger = undefined
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy()
    await new Promise<void>((resolve) =>
      this.server ? this.server.close(() => resolve()) : resolve(),
    )
  }
}
