import { describe, expect, it } from 'vitest'
import { endWithin } from '../src/index.js'

describe('endWithin', () => {
  it('waits for a graceful end and destroys nothing when it comes', async () => {
    let destroyed = 0
    await endWithin(Promise.resolve(), () => destroyed++, 50)
    expect(destroyed).toBe(0)
  })

  it('destroys what does not end in time, then waits for the end that follows', async () => {
    let release!: () => void
    const end = new Promise<void>((r) => {
      release = r
    })
    let destroyed = 0
    await endWithin(
      end,
      () => {
        destroyed++
        release() // dropping the sockets lets the pool end
      },
      20,
    )
    expect(destroyed).toBe(1)
  })

  it("throws the end's own error, and gives up on an end that never settles", async () => {
    await expect(endWithin(Promise.reject(new Error('end failed')), () => {}, 20)).rejects.toThrow(
      'end failed',
    )
    let destroyed = 0
    await endWithin(new Promise<void>(() => {}), () => destroyed++, 20)
    expect(destroyed).toBe(1)
  })
})
