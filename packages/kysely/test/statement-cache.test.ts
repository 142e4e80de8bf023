import { describe, expect, it } from 'vitest'
import { StatementCache } from '../src/statement-cache.js'

describe('statement cache', () => {
  it('is bounded and evicts the least recently used text', () => {
    const cache = new StatementCache(3)
    cache.set('a', 'A')
    cache.set('b', 'B')
    cache.set('c', 'C')
    expect(cache.get('a')).toBe('A') // a is now the most recent
    cache.set('d', 'D')
    expect(cache.size).toBe(3)
    expect(cache.get('b')).toBeUndefined()
    expect(cache.get('a')).toBe('A')
    for (let i = 0; i < 1000; i++) cache.set(`k${i}`, 'x')
    expect(cache.size).toBe(3)
  })

  it('is bounded in characters too: large statements of many row counts do not pile up', () => {
    const cache = new StatementCache(256, 1000)
    for (let n = 1; n <= 100; n++) cache.set(`shape|${n}`, 'x'.repeat(300))
    expect(cache.heldChars).toBeLessThanOrEqual(1000)
    expect(cache.size).toBe(3)
    expect(cache.get('shape|100')).toBe('x'.repeat(300)) // the most recent stay
    expect(cache.get('shape|1')).toBeUndefined()
    // Replacing an entry does not count it twice; a text over the whole budget is not kept.
    cache.set('shape|100', 'y'.repeat(300))
    expect(cache.heldChars).toBe(900)
    cache.set('huge', 'z'.repeat(1001))
    expect(cache.get('huge')).toBeUndefined()
    expect(cache.heldChars).toBe(900)
  })

  it('remembers shapes that cannot be reused', () => {
    const cache = new StatementCache()
    cache.set('k', null)
    expect(cache.get('k')).toBeNull()
  })
})
