import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import type { BatchFailure } from '@batchsql/core'
import { Redis } from 'ioredis'

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'

/** A key prefix no other test (or helper) uses. */
export function uniquePrefix(what: string): string {
  return `bsqltest:${what}:${randomBytes(4).toString('hex')}:`
}

/**
 * Deletes every key under `prefix`. Keys are scanned as Buffers: a binary key (the tests
 * write one that is not valid UTF-8) would come back from `scan` as a different string and
 * survive the `DEL`.
 */
export async function dropPrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0'
  do {
    const [next, keys] = await redis.scanBuffer(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
    if (keys.length > 0) await redis.del(...keys)
    cursor = String(next)
  } while (cursor !== '0')
}

export function connect(url = REDIS_URL): Redis {
  // Fail loudly when the server is missing instead of queueing forever.
  return new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: false })
}

const exec = promisify(execFile)
const scripts = fileURLToPath(new URL('../../../scripts/', import.meta.url))

/** Runs one of the repository's scripts (redis-cluster.sh, redis-single.sh). */
export async function script(name: string, ...args: string[]): Promise<string> {
  const { stdout } = await exec(`${scripts}${name}`, args, { timeout: 60_000 })
  return stdout
}

/**
 * A TCP proxy in front of the real Redis that can swallow the server's replies, then reset
 * the connections: the server has run the commands, the client never hears so, as in a
 * network partition. (Killing the client's connection on the server side is not the same:
 * ioredis would then see the close before it sent anything, or get the replies.)
 */
export async function replySwallower(
  upstreamUrl = REDIS_URL,
  listen: { host?: string; port?: number } = {},
) {
  const url = new URL(upstreamUrl)
  const pairs = new Set<[Socket, Socket]>()
  let swallow = false
  let hung = false
  let refuse = false
  let trigger: string | undefined
  const server: Server = createServer((client) => {
    if (refuse) {
      client.resetAndDestroy()
      return
    }
    const upstream = netConnect(Number(url.port || 6379), url.hostname)
    const pair: [Socket, Socket] = [client, upstream]
    pairs.add(pair)
    let muted = false
    client.on('data', (d: Buffer) => {
      if (trigger !== undefined && d.includes(trigger)) muted = true
      if (!hung) upstream.write(d)
    })
    upstream.on('data', (d) => {
      if (!swallow && !muted) client.write(d)
    })
    const end = () => {
      pairs.delete(pair)
      client.destroy()
      upstream.destroy()
    }
    for (const s of pair) s.on('error', end).on('close', end)
  })
  const host = listen.host ?? '127.0.0.1'
  await new Promise<void>((r) => server.listen(listen.port ?? 0, host, r))
  const port = (server.address() as { port: number }).port
  return {
    url: `redis://${host}:${port}`,
    swallow: (on: boolean) => {
      swallow = on
    },
    /** Forwards nothing either way, closes nothing: the server looks paused (SIGSTOP). */
    hang: (on: boolean) => {
      hung = on
      swallow = on
    },
    refuse: (on: boolean) => {
      refuse = on
    },
    /** Swallows every reply on a connection from its first write that holds `text` on. */
    swallowAfter: (text: string | undefined) => {
      trigger = text
    },
    /** Client connections still open through the proxy. */
    connections: () => pairs.size,
    reset: () => {
      for (const [client, upstream] of [...pairs]) {
        client.resetAndDestroy()
        upstream.destroy()
      }
    },
    close: () =>
      new Promise<void>((r) => {
        for (const p of pairs) for (const s of p) s.destroy()
        server.close(() => r())
      }),
  }
}

/** Options for a batch whose replies a test loses: quick flushes and retries, failures kept. */
export function lostReplyOptions(failures: BatchFailure[]) {
  return {
    flushSize: 1_000,
    flushInterval: 5,
    timeoutMs: 10_000,
    retry: { maxAttempts: 10, initialDelayMs: 20, maxDelayMs: 100 },
    onError: (f: BatchFailure) => failures.push(f),
  }
}
