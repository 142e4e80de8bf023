import { describe, expect, it } from 'vitest'
import { defineSchema, Request } from '../src/index.js'
import { KeyOrderGate } from '../src/key-order.js'

const kv = defineSchema({
  table: 'kv',
  columns: ['k', 'v'],
  strategy: 'replace',
  conflictColumns: ['k'],
})
const rows = (...keys: unknown[]) => keys.map((k) => Request.from(kv, { k, v: 1 }))
const settled = async (p: Promise<unknown>) => {
  let done = false
  void p.then(() => {
    done = true
  })
  await new Promise((r) => setImmediate(r))
  return done
}

describe('KeyOrderGate', () => {
  it('a batch sharing a key waits for the earlier one; disjoint batches and finished keys do not', async () => {
    const gate = new KeyOrderGate()
    const releaseA = await gate.enter(kv, rows('x', 'y'))
    const b = gate.enter(kv, rows('y'))
    const c = gate.enter(kv, rows('z', 1)) // the number 1 is not the string "1"
    const d = gate.enter(kv, rows('1'))
    expect(await settled(b)).toBe(false)
    expect(await settled(c)).toBe(true)
    expect(await settled(d)).toBe(true)
    ;(await c)()
    const e = gate.enter(kv, rows('z')) // c finished: its stale entry is ignored
    expect(await settled(e)).toBe(true)
    releaseA()
    expect(await settled(b)).toBe(true)
    ;(await b)()
    ;(await d)()
    ;(await e)()
  })

  it('keys of finished batches are forgotten while another batch stays in flight', async () => {
    const gate = new KeyOrderGate()
    const hold = await gate.enter(kv, rows('held'))
    for (let n = 0; n < 20; n++) {
      const release = await gate.enter(
        kv,
        rows(...Array.from({ length: 1000 }, (_, i) => `k${n}:${i}`)),
      )
      release()
    }
    const state = (gate as unknown as { schemas: Map<number, { byString: Map<string, unknown> }> })
      .schemas
    const size = state.get(kv.id)!.byString.size
    expect(size).toBe(1) // only the held batch's key
    const waiting = gate.enter(kv, rows('held'))
    expect(await settled(waiting)).toBe(false)
    hold()
    ;(await waiting)()
    expect(state.size).toBe(0) // nothing in flight: the schema's state is dropped
  })
})
