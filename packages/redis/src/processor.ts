import {
  AbortedError,
  type Batch,
  BatchFailedError,
  type BatchProcessor,
  BatchSQLError,
  endWithin,
  markInDoubt,
  type ProcessContext,
  type ProcessResult,
  type RowFailure,
  ValidationError,
} from '@batchsql/core'
import { type Cluster, Command, type Redis, type RedisOptions } from 'ioredis'
import {
  classifyRedisError,
  ForeignTransactionError,
  isReplyError,
  redactRedisError,
} from './classify.js'
import { execOnCluster } from './cluster-exec.js'
import { planSends, sourcesOf } from './coalesce-commands.js'
import type { RedisArg, RedisCommand } from './commands.js'
import { ConnectionLostError, ConnectionWatch } from './connection-watch.js'
import { overtaken } from './overtaken.js'
import { readyWait } from './ready-wait.js'
import { keySlot } from './slot.js'
import { MAPPER, prefixed, type RowToCommand } from './to-command.js'

/** A single-node client or a cluster client; ioredis 5.3 to 6 fit. */
export type RedisClient = Redis | Cluster

export interface RedisProcessorOptions {
  /**
   * Send each batch (each slot, on a cluster) as one `MULTI`/`EXEC` transaction instead of a
   * plain pipeline. Default false.
   */
  atomic?: boolean | undefined
  /** The sink's name in metrics. Default `redis`. */
  name?: string | undefined
  /** Quit the client on `close()`; set only when BatchSQL created the client. */
  ownsClient?: boolean | undefined
}

interface PipelineInternals {
  readonly options?: Pick<RedisOptions, 'keyPrefix'>
  sendCommand(command: Command): unknown
  /** The replies of the last send, in queue order: a transaction's MULTI first. */
  readonly _result?: readonly ([Error | null, unknown] | undefined)[]
}

/** Whether a transaction's MULTI was answered with an error (its commands ran unqueued). */
function multiRefused(p: PipelineInternals): boolean {
  return p._result?.[0]?.[0] instanceof Error
}

const QUEUED = Buffer.from('QUEUED')

/**
 * The reply of a command queued in a transaction. None of the commands BatchSQL sends replies
 * a bulk string that could read `QUEUED` (their replies are OK, integers, numbers or stream
 * IDs), so outside its own `MULTI` this reply can only mean someone else's.
 */
function isQueued(reply: unknown): boolean {
  return Buffer.isBuffer(reply) ? reply.equals(QUEUED) : reply === 'QUEUED'
}

// A command whose error did not come from the server may or may not have been executed.
const APPLIED_UNKNOWN = Symbol('applied-unknown')
interface SendError {
  error: unknown
  [APPLIED_UNKNOWN]?: true
}

/**
 * Writes one batch as one pipeline (or transaction) per cluster node, and reports each
 * command's own error so that the executor retries only those. What is re-sent:
 * - an error reply (WRONGTYPE, BUSY, LOADING, MOVED...) means the command did not run: it is
 *   retried if its error is retryable;
 * - a connection error means the outcome is unknown: idempotent commands (SET, HSET, DEL...)
 *   are retried; non-idempotent ones (LPUSH, INCR...) are reported as a final `connection`
 *   failure, since re-sending one that did run would apply it twice, silently;
 * - but never a command that a later command of the batch on the same key got past (a BUSY
 *   window ending half way through the pipeline): re-sent, it would apply after that one, out
 *   of submit order. Its failure is final (`overtaken`; commands that commute, HSETs of other
 *   fields say, do not count).
 */
export class RedisProcessor implements BatchProcessor {
  readonly name: string
  private readonly atomic: boolean
  private readonly ownsClient: boolean
  private readonly cluster: Cluster | undefined
  /** The single-node client's connection; on a cluster, each node's (see `watchOf()`). */
  private readonly watch: ConnectionWatch | undefined
  private readonly nodeWatches = new Map<Redis, ConnectionWatch>()
  // A node the cluster drops (gone from the slot map, or ended) closes without necessarily
  // saying so to a listener still to come: its pipelines are settled as lost now.
  private readonly onNodeRemoved = (node: Redis) => {
    const watch = this.nodeWatches.get(node)
    if (!watch) return
    watch.lost()
    watch.detach()
    this.nodeWatches.delete(node)
  }

  constructor(
    readonly client: RedisClient,
    options: RedisProcessorOptions = {},
  ) {
    this.name = options.name ?? 'redis'
    this.atomic = options.atomic ?? false
    // 'false' would read as true.
    if (typeof this.atomic !== 'boolean')
      throw new BatchSQLError('BATCHSQL_INVALID_CONFIG', 'atomic must be true or false')
    this.ownsClient = options.ownsClient ?? false
    this.cluster = (client as { isCluster?: boolean }).isCluster ? (client as Cluster) : undefined
    if (this.cluster) {
      // Room for this listener: many processors may share one cluster client.
      const max = this.cluster.getMaxListeners()
      if (max > 0) this.cluster.setMaxListeners(max + 1)
      this.cluster.on('-node', this.onNodeRemoved)
    } else this.watch = new ConnectionWatch(client as Redis)
  }

  private nodeWatch(node: Redis): ConnectionWatch {
    let watch = this.nodeWatches.get(node)
    if (!watch) {
      watch = new ConnectionWatch(node)
      this.nodeWatches.set(node, watch)
    }
    return watch
  }

  /** `p.exec()`, settled as lost should the connection it was written to close first. */
  private exec<T>(p: { exec(): Promise<T> }): Promise<T> {
    if (this.cluster) return execOnCluster(this.cluster, p, (node) => this.nodeWatch(node))
    return this.watch
      ? this.watch.run(
          () => p.exec(),
          () => (p as unknown as { _queue: unknown[] })._queue,
        )
      : p.exec()
  }

  classify(err: unknown) {
    return classifyRedisError(err)
  }

  async process(batch: Batch, ctx: ProcessContext): Promise<ProcessResult> {
    const { schema } = batch
    const toCommand = schema.adapterOptions[MAPPER] as RowToCommand | undefined
    if (typeof toCommand !== 'function') {
      throw new ValidationError(
        'BATCHSQL_INVALID_SCHEMA',
        `"${schema.table}" is not a Redis schema; define it with redisSchemas`,
        { table: schema.table },
      )
    }
    // A flat batch (plain-object submit() / submitMany() rows) is read in place: one array per
    // row, no Request.
    const flat = batch.values
    const width = schema.columns.length
    let cmds: RedisCommand[]
    if (flat === undefined) {
      cmds = batch.rows.map((r) => toCommand(r.values))
    } else {
      cmds = new Array(flat.length / width)
      for (let r = 0; r < cmds.length; r++) cmds[r] = toCommand(flat, r * width)
    }
    const plan = planSends(cmds)
    const sent = plan.send.map((i) => cmds[i]!)
    // Not while the client (or cluster client) connects or reconnects: it would hold the
    // pipelines in its own offline queue and send them whenever it is ready, however late,
    // after the attempt was given up and reported, and behind later batches' retries.
    if (this.client.status !== 'ready') await this.clientReady(ctx.signal)
    // Nothing has been sent yet: an abort here leaves the whole batch untouched.
    if (ctx.signal.aborted)
      throw new AbortedError('batch aborted before it was sent', ctx.signal.reason)

    const outcomes: (SendError | undefined)[] = new Array(sent.length)
    await Promise.all(this.groups(sent).map((g) => this.send(g, sent, outcomes)))
    if (this.cluster) await this.followRedirects(sent, outcomes)

    const failures: RowFailure[] = []
    // Folded commands count as deduplicated only if the command they were folded into ran: a
    // failed one's sources are retried (and counted then) or reported.
    let deduplicated = plan.dropped
    const passed = outcomes.some((o) => o !== undefined)
      ? overtaken(sent, (k) => {
          const o = outcomes[k]
          return o === undefined ? 'ran' : o[APPLIED_UNKNOWN] ? 'unknown' : 'refused'
        })
      : undefined
    for (let k = 0; k < sent.length; k++) {
      const o = outcomes[k]
      if (o === undefined) continue
      const sources = sourcesOf(plan, k)
      // Overtaken: final whatever its error, as a retry would run it after the later command
      // on its key.
      const final = passed?.has(k) === true
      redactRedisError(o.error)
      let error = o.error
      if (o[APPLIED_UNKNOWN]) {
        // Not retried when running it twice would apply it twice; retried when harmless, but
        // reported as possibly applied should every retry fail.
        error =
          sent[k]!.spec.idempotent && !final
            ? markInDoubt(o.error)
            : BatchFailedError.outcomeUnknown(
                schema.table,
                classifyRedisError(o.error)?.reason ?? 'connection',
                ctx.attempt,
                sources.length,
                o.error,
              )
      } else if (final) {
        error = new BatchFailedError(
          schema.table,
          classifyRedisError(o.error)?.reason ?? 'unknown',
          ctx.attempt,
          sources.length,
          o.error,
        )
      }
      deduplicated -= sources.length - 1
      for (const index of sources) failures.push({ index, error })
    }
    return { failures, deduplicated }
  }

  /**
   * Positions (into `sent`) per pipeline: one group on a single node, per node (per slot when
   * atomic) on a cluster.
   */
  private groups(sent: readonly RedisCommand[]): number[][] {
    if (!this.cluster) return sent.length === 0 ? [] : [sent.map((_, k) => k)]
    // ioredis accepts a pipeline whose slots share its node group (`_groupsBySlot`, marked
    // internal but the very table its check reads); the slot map is the fallback.
    const { slots, _groupsBySlot: groupOf } = this.cluster
    // ioredis prefixes every key with the client's keyPrefix before it picks the slot.
    const byGroup = new Map<string, number[]>()
    for (let k = 0; k < sent.length; k++) {
      const slot = this.slotOf(sent[k]!)
      // A transaction must stay in one slot; a pipeline only on one node.
      const id = this.atomic
        ? `${slot}`
        : groupOf?.[slot] !== undefined
          ? `g${groupOf[slot]}`
          : (slots[slot]?.join(',') ?? `unassigned:${slot}`)
      const g = byGroup.get(id)
      if (g) g.push(k)
      else byGroup.set(id, [k])
    }
    return [...byGroup.values()]
  }

  /** The cluster slot of a command's key, with the client's keyPrefix as ioredis adds it. */
  private slotOf(c: RedisCommand): number {
    const key = c.args[0]!
    const clientPrefix = (this.cluster!.options as { keyPrefix?: string }).keyPrefix ?? ''
    return keySlot(clientPrefix === '' ? key : prefixed(key, clientPrefix))
  }

  private async send(
    group: readonly number[],
    sent: readonly RedisCommand[],
    outcomes: (SendError | undefined)[],
    atomic = this.atomic,
  ): Promise<void> {
    const p = atomic ? this.client.multi() : this.client.pipeline()
    // Commands are built here rather than through `p.call()`, whose generic path (argument
    // shifting, flattening, per-call options object) and string replies cost about a
    // microsecond per command, a fifth of the whole write path: replies stay Buffers (only
    // errors are read), and the client's key prefix is applied as `call()` would.
    // `sendCommand` is the method `call()` ends in on ioredis 5.3 to 6 (the Pipeline class has
    // it; the chainable type does not declare it).
    const pipeline = p as unknown as PipelineInternals
    const options = { replyEncoding: null, keyPrefix: pipeline.options?.keyPrefix }
    for (const k of group) {
      const c = sent[k]!
      pipeline.sendCommand(new Command(c.spec.wire, c.args as RedisArg[], options))
    }
    let results: [Error | null, unknown][] | null
    try {
      results = await this.exec(p)
    } catch (error) {
      // ioredis rejects a pipeline before writing it (cluster not ready, no node for the
      // slot), or a transaction whose EXEC failed: an error reply means nothing ran, any
      // other error on a transaction leaves its outcome unknown, and so does a connection
      // that closed with the replies outstanding. Unless MULTI itself was refused (an ACL
      // without it, a renamed command, a proxy): the commands then ran one by one, and the
      // failed EXEC ("without MULTI") says nothing of them (QA: every row reported failed,
      // every command applied).
      const unknown =
        error instanceof ConnectionLostError ||
        (atomic && (!isReplyError(error) || multiRefused(pipeline)))
      for (const k of group) outcomes[k] = unknown ? { error, [APPLIED_UNKNOWN]: true } : { error }
      return
    }
    // Only a WATCHed transaction answers EXEC with null, and BatchSQL never WATCHes: kept for
    // the type, and as a failure rather than a crash should a future ioredis do it otherwise.
    if (results === null) {
      const error = new Error('transaction aborted by the server')
      for (const k of group) outcomes[k] = { error }
      return
    }
    for (let j = 0; j < group.length; j++) {
      const err =
        results[j]?.[0] ??
        (results[j] === undefined
          ? new ConnectionLostError('no reply for a sent command')
          : !atomic && isQueued(results[j]![1])
            ? new ForeignTransactionError()
            : null)
      if (err) {
        outcomes[group[j]!] = isReplyError(err)
          ? { error: err }
          : { error: err, [APPLIED_UNKNOWN]: true }
      }
    }
  }

  /**
   * MOVED/ASK replies (a slot moved during the batch) did not run: they are re-sent one by
   * one, in batch order, each as a pipeline of its own, which ioredis sends on to the node the
   * redirection names (and `execOnCluster` watches there). Other commands are never re-sent
   * here, nor these once the cluster client is not ready (it would hold them in its offline
   * queue): they stay refused, for the executor to retry.
   */
  private async followRedirects(
    sent: readonly RedisCommand[],
    outcomes: (SendError | undefined)[],
  ): Promise<void> {
    let moved = false
    for (let k = 0; k < sent.length; k++) {
      const o = outcomes[k]
      if (!o || !isReplyError(o.error)) continue
      const msg = (o.error as Error).message
      if (!msg.startsWith('MOVED ') && !msg.startsWith('ASK ')) continue
      if (this.cluster!.status !== 'ready') break
      if (msg.startsWith('MOVED ')) moved = true
      outcomes[k] = undefined
      await this.send([k], sent, outcomes, false)
    }
    if (moved) this.cluster!.refreshSlotsCache()
  }

  private async clientReady(signal: AbortSignal): Promise<void> {
    // Both clients have the status, connect() and events used here; typed as the cluster one.
    const client = this.client as Cluster
    if (client.status === 'wait') {
      await client.connect()
      return
    }
    if (client.status === 'ready') return
    // Nothing was sent: the executor retries or reports the whole batch.
    const ended = () =>
      new BatchSQLError(
        'BATCHSQL_CONNECTION_LOST',
        `Connection is closed (${this.cluster ? 'cluster ' : ''}client ended)`,
      )
    if (client.status === 'end') throw ended()
    // As long as ioredis itself would have held a command: it fails queued commands once
    // `maxRetriesPerRequest` reconnections failed, and queues none without its offline queue.
    const options = (this.cluster ? {} : this.client.options) as {
      enableOfflineQueue?: boolean
      maxRetriesPerRequest?: number | null
    }
    const unreachable = () =>
      new BatchSQLError(
        'BATCHSQL_CONNECTION_LOST',
        'Connection is closed (not connected; nothing sent)',
      )
    if (options.enableOfflineQueue === false) throw unreachable()
    const outcome = await readyWait(
      client,
      this.cluster ? Number.POSITIVE_INFINITY : options.maxRetriesPerRequest,
      signal,
      () => new AbortedError('aborted while waiting for the connection', signal.reason),
    )
    if (outcome === 'ended') throw ended()
    if (outcome === 'unreachable') throw unreachable()
  }

  async close(): Promise<void> {
    this.watch?.detach()
    if (this.cluster) {
      this.cluster.off('-node', this.onNodeRemoved)
      const max = this.cluster.getMaxListeners()
      if (max > 1) this.cluster.setMaxListeners(max - 1)
    }
    for (const watch of this.nodeWatches.values()) watch.detach()
    this.nodeWatches.clear()
    if (!this.ownsClient) return
    // QUIT waits behind the offline queue: with the server unreachable it would wait for every
    // reconnection attempt (over a minute) and the client would still be reconnecting after.
    if (this.client.status === 'ready') {
      try {
        // Bounded: QUIT also waits behind commands a server that stopped answering never
        // replies to (batches already given up on and reported), and the socket held the
        // process as long as it was paused (QA 2026-11-29).
        await endWithin(
          this.client.quit().then(() => {}),
          () => this.client.disconnect(),
        )
        return
      } catch {
        // Lost meanwhile: drop the connection below.
      }
    }
    this.client.disconnect()
  }
}
