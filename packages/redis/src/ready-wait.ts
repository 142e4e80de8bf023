import type { EventEmitter } from 'node:events'

export type WaitOutcome = 'ready' | 'ended' | 'unreachable'
/** A Redis or Cluster client, by the events the wait listens to. */
type Waitable = Pick<EventEmitter, 'once' | 'on' | 'off' | 'getMaxListeners' | 'setMaxListeners'>
type Subscriber = (outcome: WaitOutcome) => void

/**
 * One wait per client, however many batches (of however many pipelines) wait on it: a
 * listener per waiting batch would pass Node's MaxListeners limit with a dozen batches
 * waiting on a shared client. Reconnections are counted from the first waiter, as ioredis
 * counts them for the commands it queues. A batch that stops waiting (its attempt timed out)
 * leaves the set, so a long outage does not pile up batches that are gone.
 */
const waits = new WeakMap<Waitable, Set<Subscriber>>()

/** Resolves when `client` is ready, has ended, or failed `maxRetries` reconnections. */
export function readyWait(
  client: Waitable,
  maxRetries: number | null | undefined,
  signal: AbortSignal,
  onAbort: () => Error,
): Promise<WaitOutcome> {
  if (signal.aborted) return Promise.reject(onAbort())
  let subscribers = waits.get(client)
  if (subscribers === undefined) {
    subscribers = new Set()
    waits.set(client, subscribers)
    listen(client, maxRetries, subscribers)
  }
  const set = subscribers
  return new Promise<WaitOutcome>((resolve, reject) => {
    const abort = () => {
      set.delete(subscriber)
      reject(onAbort())
    }
    const subscriber: Subscriber = (outcome) => {
      signal.removeEventListener('abort', abort)
      resolve(outcome)
    }
    set.add(subscriber)
    signal.addEventListener('abort', abort, { once: true })
  })
}

function listen(
  client: Waitable,
  maxRetries: number | null | undefined,
  subscribers: Set<Subscriber>,
): void {
  const limit = maxRetries ?? Number.POSITIVE_INFINITY
  let reconnections = 0
  const settle = (outcome: WaitOutcome) => {
    client.off('ready', onReady).off('end', onEnd).off('reconnecting', onReconnecting)
    const max = client.getMaxListeners()
    if (max > 1) client.setMaxListeners(max - 1)
    waits.delete(client)
    for (const s of subscribers) s(outcome)
  }
  const onReady = () => settle('ready')
  const onEnd = () => settle('ended')
  const onReconnecting = () => {
    if (++reconnections > limit) settle('unreachable')
  }
  // Our one listener per event must not be what pushes the application's past the limit.
  const max = client.getMaxListeners()
  if (max > 0) client.setMaxListeners(max + 1)
  client.once('ready', onReady).once('end', onEnd).on('reconnecting', onReconnecting)
}
