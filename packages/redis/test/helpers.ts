import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
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
