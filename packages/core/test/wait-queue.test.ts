import { describe, expect, it } from 'vitest'
import { WaitQueue } from '../src/wait-queue.js'

describe('WaitQueue', () => {
  it('keeps arrival order through removals from the head, the middle and the tail', () => {
    const q = new WaitQueue<number>()
    const nodes = [1, 2, 3, 4, 5].map((n) => q.push(n))
    expect(q.remove(nodes[2]!)).toBe(true) // middle
    expect(q.remove(nodes[2]!)).toBe(false) // already gone
    expect(q.remove(nodes[4]!)).toBe(true) // tail
    expect(q.size).toBe(3)
    expect(q.remove(q.first()!)).toBe(true)
    expect(q.first()?.value).toBe(2)
    q.push(6)
    expect(q.remove(nodes[1]!)).toBe(true) // head
    expect(q.drain()).toEqual([4, 6])
    expect(q.size).toBe(0)
    expect(q.first()).toBeUndefined()
    expect(q.remove(nodes[3]!)).toBe(false) // drained
  })
})
