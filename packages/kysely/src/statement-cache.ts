/**
 * SQL text per (shape, row count), so that Kysely builds and compiles a statement once per
 * shape instead of once per batch; later batches bind new parameters to the same text.
 * Bounded in entries and in characters (least recently used out), so a workload with ever-new
 * shapes cannot grow memory. Why characters too: a statement of 2,000 rows x 30 columns is
 * ~240 KB of text, and flushes of varying size (interval flushes under variable load) each
 * make an entry: 256 of them held ~60 MB.
 */
export class StatementCache {
  private readonly entries = new Map<string, string | null>()
  private chars = 0

  constructor(
    private readonly capacity = 256,
    private readonly maxChars = 8 * 1024 * 1024,
  ) {}

  /** The cached text, `null` when the shape is known not to be reusable, undefined if unknown. */
  get(key: string): string | null | undefined {
    const sql = this.entries.get(key)
    if (sql !== undefined) {
      this.entries.delete(key)
      this.entries.set(key, sql)
    }
    return sql
  }

  set(key: string, sql: string | null): void {
    this.remove(key)
    // A text larger than the whole budget is not kept: it is built again when next needed.
    if (sql !== null && sql.length > this.maxChars) return
    this.entries.set(key, sql)
    this.chars += sql?.length ?? 0
    while (this.entries.size > this.capacity || this.chars > this.maxChars)
      this.remove(this.entries.keys().next().value as string)
  }

  private remove(key: string): void {
    const old = this.entries.get(key)
    if (old === undefined) return
    this.entries.delete(key)
    this.chars -= old?.length ?? 0
  }

  get size(): number {
    return this.entries.size
  }

  /** Characters of SQL text held. */
  get heldChars(): number {
    return this.chars
  }
}
