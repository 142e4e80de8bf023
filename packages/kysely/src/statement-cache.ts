/**
 * SQL text per (shape, row count), so that Kysely builds and compiles a statement once per
 * shape instead of once per batch; later batches bind new parameters to the same text.
 * Bounded (least recently used out), so a workload with ever-new shapes cannot grow memory.
 */
export class StatementCache {
  private readonly entries = new Map<string, string | null>()

  constructor(private readonly capacity = 256) {}

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
    this.entries.delete(key)
    this.entries.set(key, sql)
    if (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value as string
      this.entries.delete(oldest)
    }
  }

  get size(): number {
    return this.entries.size
  }
}
