import { BatchSQLError } from '@batchsql/core'
import type { Redis } from 'ioredis'

interface ResendQueue {
  readonly length: number
  toArray(): { command: unknown }[]
  clear(): void
  push(item: { command: unknown }): void
}

/** A sent command whose reply never came: the connection closed, or the reply is missing. */
export class ConnectionLostError extends BatchSQLError {
  declare readonly code: 'BATCHSQL_CONNECTION_LOST'
  constructor(message = 'Connection closed before the replies of a sent pipeline arrived') {
    super('BATCHSQL_CONNECTION_LOST', message)
  }
}

/**
 * The pipelines written on one connection (a single-node client, or one node of a cluster)
 * and still waiting for their replies; a close settles them.
 *
 * Why: a pipeline whose replies have not come when the connection closes never gets them from
 * that connection, and ioredis sends it again, silently. A single-node client does so with
 * `autoResendUnfulfilledCommands` (its default) on the next connection; a cluster client
 * re-runs a whole pipeline or transaction whose every reply is "Connection is closed" (after
 * `retryDelayOnFailover`). Either way a non-idempotent command that had already run would run
 * again and then succeed. Settled here first, it is reported `BATCHSQL_OUTCOME_UNKNOWN` (an
 * idempotent one is retried), whatever ioredis does with it afterwards (on a cluster
 * `execOnCluster` also keeps ioredis from sending it again).
 *
 * Pipelines handed over while the connection was not ready sit in ioredis's offline queue,
 * unsent: they are watched from the connection's next `ready` (ioredis writes the queue
 * then), so a failed reconnection does not settle them.
 */
export class ConnectionWatch {
  private readonly written = new Set<(e: Error) => void>()
  private readonly queued = new Set<(e: Error) => void>()
  private readonly onClose = () => this.lost()
  private readonly onReady = () => {
    for (const reject of this.queued) this.written.add(reject)
    this.queued.clear()
  }

  constructor(private readonly connection: Redis) {
    // Room for these two listeners: many pipelines may share one client (0 is already "no
    // limit").
    const max = connection.getMaxListeners()
    if (max > 0) connection.setMaxListeners(max + 2)
    connection.on('close', this.onClose).on('ready', this.onReady)
  }

  /**
   * `exec()`'s result, or a ConnectionLostError should the connection close first. Then the
   * `commands` it wrote are also taken out of what ioredis keeps to send again on the next
   * connection (`autoResendUnfulfilledCommands`, and `reconnectOnError` returning 2), so that, reported lost, they run at most
   * once, on a client of the application's too, whose own commands ioredis still re-sends.
   */
  run<T>(exec: () => Promise<T>, commands?: () => readonly unknown[]): Promise<T> {
    return new Promise((resolve, reject) => {
      const done = this.register(reject, undefined, commands)
      exec().then(
        (r) => {
          done()
          resolve(r)
        },
        (e: unknown) => {
          done()
          reject(e)
        },
      )
    })
  }

  /**
   * Calls `onLost` should the connection close before the returned function is called, after
   * taking the `commands` it was given out of what ioredis would send again.
   * `written`: handed to the socket (the default when the connection is ready), not waiting in
   * the offline queue.
   */
  register(
    onLost: (e: Error) => void,
    written = this.connection.status === 'ready',
    commands?: () => readonly unknown[],
  ): () => void {
    const settle = commands
      ? (error: Error) => {
          this.forget(commands())
          onLost(error)
        }
      : onLost
    if (written) this.written.add(settle)
    else this.queued.add(settle)
    return () => {
      this.written.delete(settle)
      this.queued.delete(settle)
    }
  }

  // ioredis keeps the closed connection's unanswered commands in `prevCommandQueue` (a Denque
  // of { command, stream, select }) until the next connection is ready, then sends them again.
  // The 'close' this watch hears is emitted after that queue is set aside and long before the
  // next connection is ready. A command whose error reply made `reconnectOnError` return 2 is
  // not in it: ioredis drops the connection and puts that command in its `offlineQueue`
  // (same items), to be sent on the next connection, whenever that is: it goes too.
  private forget(commands: readonly unknown[]): void {
    const client = this.connection as unknown as {
      prevCommandQueue?: ResendQueue | null
      offlineQueue?: ResendQueue | null
    }
    const mine = new Set(commands)
    for (const queue of [client.prevCommandQueue, client.offlineQueue]) {
      if (!queue || queue.length === 0) continue
      const keep = queue.toArray().filter((item) => !mine.has(item.command))
      if (keep.length === queue.length) continue
      queue.clear()
      for (const item of keep) queue.push(item)
    }
  }

  /** Settles every written pipeline as lost (the connection closed, or is being dropped). */
  lost(): void {
    if (this.written.size === 0) return
    const error = new ConnectionLostError()
    const waiting = [...this.written]
    this.written.clear()
    for (const reject of waiting) reject(error)
  }

  detach(): void {
    this.connection.off('close', this.onClose).off('ready', this.onReady)
    const max = this.connection.getMaxListeners()
    if (max > 2) this.connection.setMaxListeners(max - 2)
  }
}
