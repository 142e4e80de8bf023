/**
 * FNV-1a, 32 bits, over a string's UTF-16 code units, continuing from state `h`
 * (`FNV_OFFSET` to start). The ordering gate hashes conflict keys with it, and adapters that
 * give a schema its own `keyHash` (Redis) use it so that a key hashes alike wherever it is
 * computed. Not cryptographic: equal keys must collide, unequal ones rarely do.
 */
export function fnv1a(s: string, h: number = FNV_OFFSET): number {
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), FNV_PRIME)
  return h >>> 0
}

export const FNV_OFFSET = 0x811c9dc5
export const FNV_PRIME = 0x01000193
