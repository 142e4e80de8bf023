import type { Cluster, Redis } from 'ioredis'
import { isReplyError } from './classify.js'
import { ConnectionLostError, type ConnectionWatch } from './connection-watch.js'

// ioredis internals read here (present in ioredis 5.3 to 6; checked by test/cluster.test.ts):
// a pipeline's queued commands, its replies of the last send and how many are still due, and
// each connection's queues of commands written and waiting for replies (`commandQueue`) or
// held until it connects (`offlineQueue`).
interface Queue {
  readonly length: number
  peekAt(index: number): { command: unknown } | undefined
}
interface ConnectionQueues {
  commandQueue?: Queue
  offlineQueue?: Queue
}
interface PipelineState {
  _queue: unknown[]
  _result: ([Error | null, unknown] | undefined)[]
  replyPending: number
  preferKey?: string
  exec(...args: unknown[]): Promise<unknown>
}

const EXECABORT = 'EXECABORT'

/**
 * Runs a cluster pipeline (or transaction) under the watch of the node connection each send
 * of it is handed to, and never lets ioredis send it again once a send may have run.
 *
 * Why: ioredis sends a cluster pipeline again on its own, by calling its `exec()` again: to
 * the node a MOVED or ASK reply names, after TRYAGAIN or CLUSTERDOWN, and after
 * `retryDelayOnFailover` when every reply is "Connection is closed". A non-idempotent command
 * (INCRBY) of a send that had run was then applied twice and counted written once. So:
 * - each `exec()` moves the watch to the connection that took the send (found by its last
 *   command in that connection's queues); a send the cluster client holds in its own offline
 *   queue (it was reconnecting) is found there once the cluster is ready;
 * - a close of that connection settles the pipeline as lost, and takes its commands out of
 *   what the node connection would send again on reconnecting (`clusterNodeRetryStrategy`),
 *   unless every reply of the send had already come (it waits for ioredis's delayed re-send);
 * - an `exec()` after the pipeline was settled sends nothing, and one that follows replies
 *   that were not all refusals (a redirection, TRYAGAIN, CLUSTERDOWN: nothing ran) settles it
 *   as lost instead of sending it again, whether or not a watch saw the connection close.
 */
export function execOnCluster<T>(
  cluster: Cluster,
  pipeline: unknown,
  watchOf: (node: Redis) => ConnectionWatch,
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
      // Every reply of this send is in (refusals ioredis will send again after a delay, or
      // "Connection is closed" replies that the next exec() settles): the close took nothing.
      if (p.replyPending === 0) {
        unwatch = undefined
        return
      }
      settle()
      reject(error)
    }
    const watch = (search: boolean) => {
      const to = handedTo(cluster, p._queue[p._queue.length - 1], search)
      if (to) {
        unwatch = watchOf(to.node).register(lost, to.written, () => p._queue)
        return
      }
      // Refused before it was sent (no node for the slot, cluster ended): nothing to watch.
      if (cluster.status === 'ready' || cluster.status === 'end') return
      // Held in the cluster client's own offline queue: handed to nodes just before 'ready'
      // is emitted (on the next tick), possibly behind other pipelines, hence the search.
      const onReady = () => {
        unwatch = undefined
        if (!settled) watch(true)
      }
      cluster.once('ready', onReady)
      unwatch = () => cluster.off('ready', onReady)
    }
    const exec = p.exec
    p.exec = function (this: unknown, ...args: unknown[]) {
      // Its replies were lost: a command of it may have run, and must not run again. The
      // pipeline's own promise stays pending; nothing waits on it any more.
      if (settled) return new Promise<never>(() => {})
      unwatch?.()
      unwatch = undefined
      const previous = p._result.find((r) => r?.[0] && !r[0].message.startsWith(EXECABORT))?.[0]
      if (previous && !isReplyError(previous)) {
        settle()
        reject(new ConnectionLostError())
        return new Promise<never>(() => {})
      }
      if (previous) redirect(cluster, p, previous.message)
      const result = exec.apply(this, args)
      watch(false)
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

interface NatMapping {
  options: { natMap?: unknown }
  natMapper(nodeKey: string): { host: string; port: number }
  connectionPool: {
    getInstanceByKey(key: string): Redis | undefined
    findOrCreate(node: { host: string; port: number }): Redis
  }
}

/**
 * Sends a pipeline redirected by MOVED or ASK to the node's address through the client's
 * `natMap`. ioredis's pipeline takes the address of the reply as it is, which no connection
 * of a NAT-mapped client has: the pipeline went to the slot's old node again until its
 * redirections ran out, and the rows failed while a slot was migrating.
 */
function redirect(cluster: Cluster, p: PipelineState, reply: string): void {
  const c = cluster as unknown as NatMapping
  if (!c.options.natMap) return
  const to = /^(?:MOVED|ASK) \d+ (\S+)$/.exec(reply)?.[1]
  if (to === undefined) return
  const mapped = c.natMapper(to)
  const key = `${mapped.host}:${mapped.port}`
  if (!c.connectionPool.getInstanceByKey(key)) c.connectionPool.findOrCreate(mapped)
  p.preferKey = key
}

/**
 * The node connection holding `command` (waiting for its reply, or unsent in its offline
 * queue), and whether it was written. A send just made ends its connection's queue; `search`
 * looks further (sends handed over together from the cluster's offline queue).
 */
function handedTo(
  cluster: Cluster,
  command: unknown,
  search: boolean,
): { node: Redis; written: boolean } | undefined {
  if (command === undefined) return undefined
  const holds = (q: Queue | undefined) => {
    if (!q) return false
    const last = search ? 0 : q.length - 1
    for (let i = q.length - 1; i >= last; i--) if (q.peekAt(i)?.command === command) return true
    return false
  }
  for (const node of cluster.nodes('all')) {
    const q = node as unknown as ConnectionQueues
    if (holds(q.commandQueue)) return { node, written: true }
    if (holds(q.offlineQueue)) return { node, written: false }
  }
  return undefined
}
