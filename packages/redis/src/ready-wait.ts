import type { Cluster } from 'ioredis'

export type WaitOutcome = 'ready' | 'ended' | 'unreachable'
type Waitable = Pick<Cluster, 'once' | 'on' | 'off' | 'getMaxListeners' | 'setMaxListeners'>

/**
 * One wait per client, however many batches (of however many pipelines) wait on it: a
 * listener per waiting batch would pass Node's MaxListeners limit with a dozen batches
 * waiting on a shared client. Reconnections are counted from the first waiter, as ioredis
 * counts them for the commands it queues.
 */
const readyWaits = new WeakMap<Waitable, Promise<WaitOutcome>>()

export function readyWait(
  client: Waitable,
  maxRetries: number | null | undefined,
): Promise<WaitOutcome> {
  const pending = readyWaits.get(client)
  if (pending) return pending
  const limit = maxRetries ?? Number.POSITIVE_INFINITY
  let reconnections = 0
  const wait = new Promise<WaitOutcome>((resolve) => {
    const settle = (outcome: WaitOutcome) => {
      client.off('ready', onReady).off('end', onEnd).off('reconnecting', onReconnecting)
      const max = client.getMaxListeners()
      if (max > 1) client.setMaxListeners(max - 1)
      readyWaits.delete(client)
      resolve(outcome)
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
  })
  readyWaits.set(client, wait)
  return wait
}
