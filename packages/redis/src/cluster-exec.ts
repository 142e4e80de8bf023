import type { Cluster, Redis } from 'ioredis'
import type { ConnectionWatch } from './connection-watch.js'

// ioredis internals read here (present in ioredis 5 and 6; checked by test/cluster.test.ts):
// a pipeline's queued commands, and each connection's queues of commands written and waiting
// for replies (`commandQueue`) or held until it connects (`offlineQueue`).
interface Queue {
  peekBack(): { command: unknown } | undefined
}
interface ConnectionQueues {
  commandQueue?: Queue
  offlineQueue?: Queue
}
interface PipelineState {
  _queue: unknown[]
  exec(...args: unknown[]): Promise<unknown>
}

/**
 * Runs a cluster pipeline (or transaction) under the watch of the node connection each send
 * of it is handed to, and never lets ioredis send it again once it was settled as lost.
 *
 * Why: ioredis sends a cluster pipeline again on its own, by calling its `exec()` again: to
 * the node a MOVED or ASK reply names when every reply is that redirection, and after
 * `retryDelayOnFailover` when every reply is "Connection is closed". A watch on the node the
 * slot map named missed a send that went elsewhere, and the second send of a pipeline whose
 * first had run applied a non-idempotent command (INCRBY) twice, then counted it written once.
 * Here each `exec()` moves the watch to the connection that took the send (found by its last
 * command at the back of that connection's queue), and an `exec()` after the watch settled
 * the pipeline as lost sends nothing.
 *
 * `fallback` is the watch used when no connection holds the send (the cluster client's own
 * offline queue, before it knows its nodes).
 */
export function execOnCluster<T>(
  cluster: Cluster,
  pipeline: unknown,
  watchOf: (node: Redis) => ConnectionWatch,
  fallback: () => ConnectionWatch | undefined,
): Promise<T> {
  const p = pipeline as PipelineState
  return new Promise<T>((resolve, reject) => {
    let settled = false
    let unwatch: (() => void) | undefined
    const settle = () => {
      settled = true
      unwatch?.()
      unwatch = undefined
    }
    const lost = (error: Error) => {
      settle()
      reject(error)
    }
    const exec = p.exec
    p.exec = function (this: unknown, ...args: unknown[]) {
      // Its replies were lost: a command of it may have run, and must not run again. The
      // pipeline's own promise stays pending; nothing waits on it any more.
      if (settled) return new Promise<never>(() => {})
      unwatch?.()
      const result = exec.apply(this, args)
      const last = p._queue[p._queue.length - 1]
      const to = handedTo(cluster, last)
      unwatch = to ? watchOf(to.node).register(lost, to.written) : fallback()?.register(lost)
      return result
    }
    p.exec().then(
      (r) => {
        if (settled) return
        settle()
        resolve(r as T)
      },
      (e: unknown) => {
        if (settled) return
        settle()
        reject(e)
      },
    )
  })
}

/** The node connection whose queue ends with `command`, and whether it was written. */
function handedTo(
  cluster: Cluster,
  command: unknown,
): { node: Redis; written: boolean } | undefined {
  if (command === undefined) return undefined
  for (const node of cluster.nodes('all')) {
    const q = node as unknown as ConnectionQueues
    if (q.commandQueue?.peekBack()?.command === command) return { node, written: true }
    if (q.offlineQueue?.peekBack()?.command === command) return { node, written: false }
  }
  return undefined
}
