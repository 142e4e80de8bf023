/**
 * Which unfinished batch last claimed each conflict-key hash: an open-addressing hash table
 * (linear probing) in two typed arrays, so the ordering gate keeps no object, string or
 * pointer per key for the garbage collector to trace, and each key costs one probe however
 * many batches are in flight. Owners are batch sequence numbers (> 0); 0 means none.
 */
export class KeyTable {
  private keys: Uint32Array
  private owners: Float64Array
  private mask: number
  private shift: number
  private count = 0

  constructor(capacity = 1024) {
    const bits = Math.ceil(Math.log2(Math.max(16, capacity)))
    this.keys = new Uint32Array(2 ** bits)
    this.owners = new Float64Array(2 ** bits)
    this.mask = 2 ** bits - 1
    this.shift = 32 - bits
  }

  /** Keys held. */
  get size(): number {
    return this.count
  }

  /** Slots allocated (twice the keys it holds, at most, before it grows). */
  get capacity(): number {
    return this.keys.length
  }

  /**
   * Makes `owner` the owner of `hash` and returns the previous owner (0 if none). Hash 0 marks
   * an empty slot, so it is stored as 1: two keys then share an owner, which can only make a
   * batch wait when it need not.
   */
  claim(hash: number, owner: number): number {
    const key = hash >>> 0 || 1
    const i = this.slotOf(key)
    if (this.keys[i] === key) {
      const previous = this.owners[i]!
      this.owners[i] = owner
      return previous
    }
    this.keys[i] = key
    this.owners[i] = owner
    // At most half full: probes stay short.
    if (++this.count * 2 > this.keys.length) this.grow()
    return 0
  }

  /** Forgets `hash` if `owner` still owns it (a later batch may have claimed it since). */
  release(hash: number, owner: number): void {
    const i = this.slotOf(hash >>> 0 || 1)
    if (this.keys[i] === 0 || this.owners[i] !== owner) return
    // Backward-shift deletion: pull later entries of the probe run into the hole, so a lookup
    // never stops at a gap before the key it looks for (no tombstones to accumulate).
    let hole = i
    let j = i
    for (;;) {
      j = (j + 1) & this.mask
      const k = this.keys[j]!
      if (k === 0) break
      const home = this.home(k)
      // The entry at j may move to the hole unless its home lies cyclically in (hole, j].
      const stays = hole < j ? home > hole && home <= j : home > hole || home <= j
      if (stays) continue
      this.keys[hole] = k
      this.owners[hole] = this.owners[j]!
      hole = j
    }
    this.keys[hole] = 0
    this.owners[hole] = 0
    this.count--
  }

  /** The slot holding `key`, or the empty slot that ends its probe run. */
  private slotOf(key: number): number {
    let i = this.home(key)
    for (;;) {
      const k = this.keys[i]!
      if (k === 0 || k === key) return i
      i = (i + 1) & this.mask
    }
  }

  // Fibonacci hashing (the product's high bits): a slot from all of the key's bits.
  private home(key: number): number {
    return Math.imul(key, 0x9e3779b1) >>> this.shift
  }

  private grow(): void {
    const { keys, owners } = this
    this.keys = new Uint32Array(keys.length * 2)
    this.owners = new Float64Array(keys.length * 2)
    this.mask = this.keys.length - 1
    this.shift--
    this.count = 0
    for (let i = 0; i < keys.length; i++) if (keys[i] !== 0) this.claim(keys[i]!, owners[i]!)
  }
}
