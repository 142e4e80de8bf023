/**
 * A least-recently-used cache bounded in entries and in weight, for what BatchSQL keeps per
 * statement shape: the engine's SQL text per (shape, row count), so that Kysely builds and
 * compiles a statement once per shape instead of once per batch; SQLite's prepared statements
 * per SQL text. Why weight too: a statement of 2,000 rows x 30 columns is ~240 KB of text (and
 * on SQLite ~2 MB of native memory once prepared), and flushes of varying size (interval
 * flushes under variable load) each make an entry: 256 texts held ~60 MB, 64 prepared
 * statements ~140 MB.
 */
export class StatementCache<V = string | null> {
  private readonly entries = new Map<string, V>()
  private weight = 0

  /**
   * `weigh` gives an entry's weight (default: the length of a string value, SQL text);
   * entries beyond `capacity`, or beyond `maxWeight` in all, go least recently used first.
   */
  constructor(
    private readonly capacity = 256,
    private readonly maxWeight = 8 * 1024 * 1024,
    private readonly weigh: (key: string, value: V) => number = (_key, value) =>
      typeof value === 'string' ? value.length : 0,
  ) {}

  /** The cached value (most recently used from now on), undefined if unknown. */
  get(key: string): V | undefined {
    const value = this.entries.get(key)
    // The common single shape needs no reordering.
    if (value !== undefined && this.entries.size > 1) {
      this.entries.delete(key)
      this.entries.set(key, value)
    }
    return value
  }

  set(key: string, value: V): void {
    this.remove(key)
    const weight = this.weigh(key, value)
    // An entry heavier than the whole budget is not kept: it is built again when next needed.
    if (weight > this.maxWeight) return
    this.entries.set(key, value)
    this.weight += weight
    while (this.entries.size > this.capacity || this.weight > this.maxWeight)
      this.remove(this.entries.keys().next().value as string)
  }

  private remove(key: string): void {
    const old = this.entries.get(key)
    if (old === undefined) return
    this.entries.delete(key)
    this.weight -= this.weigh(key, old)
  }

  get size(): number {
    return this.entries.size
  }

  /** The keys, least recently used first. */
  keys(): IterableIterator<string> {
    return this.entries.keys()
  }

  /** The weight held (characters of SQL text, by default). */
  get heldChars(): number {
    return this.weight
  }
}
