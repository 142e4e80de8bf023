import { EventEmitter } from 'node:events'
import { describe, expect, it } from 'vitest'
import { readyWait } from '../src/ready-wait.js'

// The wait's own bookkeeping, on a bare emitter standing in for the client's events; the
// real-server behaviour is in restart.test.ts.
describe('readyWait', () => {
  it('one set of listeners for every waiter; a waiter that gives up leaves, the others get the outcome', async () => {
    const client = new EventEmitter()
    const gaveUp = new Error('attempt timed out')
    const stops = Array.from({ length: 50 }, () => new AbortController())
    const waits = stops.map((s) =>
      readyWait(client, 3, s.signal, () => gaveUp).then(
        (o) => o,
        (e: unknown) => e,
      ),
    )
    expect(client.listenerCount('ready')).toBe(1)
    expect(client.listenerCount('reconnecting')).toBe(1)
    for (const s of stops.slice(0, 25)) s.abort()
    // Each waiter removed its abort listener once settled.
    client.emit('ready')
    const outcomes = await Promise.all(waits)
    expect(outcomes.slice(0, 25).every((o) => o === gaveUp)).toBe(true)
    expect(outcomes.slice(25).every((o) => o === 'ready')).toBe(true)
    expect(client.listenerCount('ready')).toBe(0)
    expect(client.listenerCount('reconnecting')).toBe(0)
    expect(client.getMaxListeners()).toBe(EventEmitter.defaultMaxListeners)
  })

  it('unreachable after maxRetries reconnections, counted from the first waiter', async () => {
    const client = new EventEmitter()
    const never = new AbortController().signal
    const first = readyWait(client, 2, never, () => new Error('x'))
    client.emit('reconnecting')
    client.emit('reconnecting')
    const late = readyWait(client, 2, never, () => new Error('x'))
    client.emit('reconnecting')
    expect(await first).toBe('unreachable')
    expect(await late).toBe('unreachable')
    // A new wait starts a new count.
    const next = readyWait(client, 2, never, () => new Error('x'))
    client.emit('end')
    expect(await next).toBe('ended')
  })
})
