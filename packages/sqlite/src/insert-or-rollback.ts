import { StatementCache } from '@batchsql/kysely'
import type { Database, Statement } from 'better-sqlite3'

/**
 * Where a plain insert may run as `INSERT OR ROLLBACK`, and the statement text either way.
 *
 * Why: every batch on a `Database` runs between its own BEGIN and COMMIT (own-transaction.ts).
 * Inside such a transaction an INSERT with SQLite's default `OR ABORT` keeps a statement
 * journal, to undo a failed statement alone, and spills it to a temporary file past 64 KiB,
 * which rows arriving from several producers (many places of an index) soon reach: 25 % more
 * time per batch with ten producers (`bench/statement-journal.mjs`). A failed statement fails
 * its whole batch anyway, so rolling back the whole transaction at once loses nothing.
 *
 * But an outer `OR` clause also overrides what the table declares (`PRIMARY KEY ON CONFLICT
 * REPLACE`, `UNIQUE ON CONFLICT IGNORE`, `NOT NULL ON CONFLICT REPLACE`) and the `OR` clauses
 * of statements its triggers run: rows those would have written failed instead. So it is used
 * only for a table of `main` or `temp` whose text has no `conflict` at all, has no trigger (in
 * either schema), and is no view or virtual table; the answer is kept per table until either
 * schema changes (`schema_version`), and anything unsure keeps the plain `INSERT`.
 */
export class InsertOrRollback {
  private readonly versions: Statement[]
  private readonly objects: Map<string, Statement> = new Map()
  private stamp = ''
  private readonly safe = new Map<string, boolean>()
  /**
   * Per statement text (the engine reuses each text object): its table, and the text with
   * `or rollback` taken out once a table needed it. Bounded as the engine's text cache is.
   */
  private readonly parsed = new StatementCache<Parsed>(
    256,
    8 * 1024 * 1024,
    (_sql, p) => p.plain?.length ?? 0,
  )

  constructor(private readonly db: Database) {
    this.versions = ['main', 'temp'].map((s) => db.prepare(`PRAGMA ${s}.schema_version`).pluck())
  }

  /** The text to run for `sql`: as it is, or without `or rollback` where that is not safe. */
  text(sql: string): string {
    if (!sql.startsWith(PREFIX)) return sql
    let p = this.parsed.get(sql)
    if (p === undefined) {
      p = { target: targetOf(sql) }
      this.parsed.set(sql, p)
    }
    if (p.target !== undefined && this.isSafe(p.target)) return sql
    if (p.plain !== undefined) return p.plain
    const plain = `insert into${sql.slice(PREFIX.length - 1)}`
    this.parsed.set(sql, { target: p.target, plain })
    return plain
  }

  /** Call once per batch: forgets every answer when `main` or `temp` changed schema. */
  checkSchema(): void {
    const stamp = this.versions.map((v) => v.get()).join('.')
    if (stamp === this.stamp) return
    this.stamp = stamp
    this.safe.clear()
  }

  private isSafe(target: Target): boolean {
    const key = `${target.schema ?? ''}\u0000${target.name}`
    let ok = this.safe.get(key)
    if (ok === undefined) {
      ok = this.inspect(target)
      this.safe.set(key, ok)
    }
    return ok
  }

  private inspect({ schema, name }: Target): boolean {
    const s = schema?.toLowerCase()
    if (s !== undefined && s !== 'main' && s !== 'temp') return false
    // An unqualified name is temp's table if temp has one, else main's: both are read. Temp
    // triggers may sit on a main table: temp is always read.
    let found = false
    for (const each of s === 'temp' ? ['temp'] : ['temp', 'main']) {
      for (const o of this.objectsOf(each).all(name) as { type: string; sql: string | null }[]) {
        if (o.type === 'trigger' || o.type === 'view') return false
        if (o.type !== 'table' || (s !== undefined && each !== s)) continue
        found = true
        const text = o.sql ?? ''
        // The word alone, not `on conflict`: SQLite keeps the text as written, and a comment
        // may stand between the two words (`ON/**/CONFLICT REPLACE`).
        if (/^\s*create\s+virtual\b/i.test(text) || /conflict/i.test(text)) return false
      }
    }
    return found
  }

  private objectsOf(schema: string): Statement {
    let stmt = this.objects.get(schema)
    if (stmt === undefined) {
      stmt = this.db.prepare(
        `SELECT type, sql FROM ${schema}.sqlite_master WHERE tbl_name = ? COLLATE NOCASE`,
      )
      this.objects.set(schema, stmt)
    }
    return stmt
  }
}

const PREFIX = 'insert or rollback into '

interface Target {
  readonly schema: string | undefined
  readonly name: string
}

interface Parsed {
  readonly target: Target | undefined
  readonly plain?: string
}

/**
 * The table of an `insert or rollback into "s"."t" …` text as Kysely writes it (identifiers
 * double-quoted, `"` doubled inside); undefined for anything else.
 */
export function targetOf(sql: string): Target | undefined {
  const parts: string[] = []
  let at = PREFIX.length
  for (;;) {
    if (sql[at] !== '"') return undefined
    let name = ''
    at++
    for (;;) {
      const q = sql.indexOf('"', at)
      if (q < 0) return undefined
      name += sql.slice(at, q)
      if (sql[q + 1] === '"') {
        name += '"'
        at = q + 2
        continue
      }
      at = q + 1
      break
    }
    parts.push(name)
    if (sql[at] !== '.') break
    at++
  }
  if (parts.length === 1) return { schema: undefined, name: parts[0]! }
  if (parts.length === 2) return { schema: parts[0], name: parts[1]! }
  return undefined
}
