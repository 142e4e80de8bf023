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

  it('remembers shapes that cannot be reused', () => {
    const cache = new StatementCache()
    cache.set('k', null)
    expect(cache.get('k')).toBeNull()
  })
})
