/**
 * A deadline for connecting: a server that accepts the TCP connection and then never answers
 * (a wrong port, a hung server) must fail the database with a clear message, not hang the run.
 * A driver's own connect timeout may cover only the TCP connection (ioredis: not its ready
 * check, nor the SELECT of the database index).
 */
export async function connectWithin<T>(
  ms: number,
  what: string,
  connecting: Promise<T>,
  /** Called when the deadline passed first: drops the half-open connection. */
  giveUp: () => void,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      giveUp()
      reject(new Error(`${what} did not answer within ${ms / 1000} s (CONNECT_TIMEOUT)`))
    }, ms)
  })
  try {
    return await Promise.race([connecting, late])
  } finally {
    clearTimeout(timer)
  }
}

/** `host:port` of a connection URL, for messages (never its user or password). */
export function hostOf(url: string): string {
  try {
    return new URL(url).host
  } catch {
    return 'the server'
  }
}
