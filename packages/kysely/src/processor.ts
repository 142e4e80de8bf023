/**
 * The SQL engine: writes one batch through Kysely. Per batch it plans the rows (coalesce,
 * key order, shape groups), chunks them under the dialect's limits, and runs all chunks in
 * one transaction so that a batch commits whole or not at all. A data error that retrying
 * cannot fix (a poison row) is isolated by bisection: the good rows commit, each bad row is
 * reported with its own error.
 */
import {
  AbortedError,
  type Batch,
  type BatchProcessor,
  BatchSQLError,
  batchSize,
  builtinClassifier,
  type Classification,
  type ProcessContext,
  type ProcessResult,
  type RowFailure,
  setOwnProperty,
} from '@batchsql/core'
import { CompiledQuery, type Kysely } from 'kysely'
import { type Chunk, chunkRows } from './chunks.js'
import type { DriverRow, InsertShape, SqlDialectAdapter } from './dialect.js'
import { lostCommit } from './lost-commit.js'
import {
  allRows,
  type PlannedGroup,
  planBatch,
  type RowRef,
  rowAt,
  rowCount,
  sourcesOf,
  subPlan,
} from './plan.js'
import { valuesPassPlugins } from './plugins.js'
import { StatementCache } from './statement-cache.js'
import { UNSET } from './unset.js'

export interface KyselyProcessorOptions {
  /**
   * What a batch failing on bad data does. `isolate` (default): bisect the batch, commit the
   * good rows and report each bad row with its own error, so one caller's bad row cannot fail
   * the rows of every other caller that shared its batch (costs about 2·log2(rows) extra
   * statements per bad row, only when a batch fails). `fail-batch`: report the whole batch.
   */
  poisonRows?: 'isolate' | 'fail-batch' | undefined
  /** The `database` label; default the dialect's name. */
  name?: string | undefined
  /** Destroy the Kysely instance on close (set when BatchSQL created it). */
  ownsDb?: boolean | undefined
  /**
   * Releases what BatchSQL created (its pool, its database), on close; instead of `ownsDb`.
   * Why a hook: Kysely's `destroy()` ends its driver only if Kysely itself ever ran a query,
   * and an adapter's fast path (COPY, SQLite's cached statements) may be all that ever ran.
   */
  release?: (() => void | Promise<void>) | undefined
}

/** What isolating a failed batch's poison rows found. */
interface Isolation {
  readonly failures: RowFailure[]
  /** Rows a merge had folded away that were not written as part of it (failed or replayed). */
  unmerged: number
}

function sameParameters(a: readonly unknown[], b: readonly unknown[]): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

export class KyselyProcessor implements BatchProcessor {
  readonly name: string
  private readonly cache = new StatementCache()
  /** Compiled text may be bound to later rows' values: no plugin that may rewrite them. */
  private readonly reusesText: boolean
  private readonly poisonRows: 'isolate' | 'fail-batch'
  private initialised = false
  private initialising: Promise<void> | undefined

  constructor(
    readonly db: Kysely<any>,
    readonly adapter: SqlDialectAdapter,
    private readonly options: KyselyProcessorOptions = {},
  ) {
    this.name = options.name ?? adapter.name
    this.poisonRows = options.poisonRows ?? 'isolate'
    if (this.poisonRows !== 'isolate' && this.poisonRows !== 'fail-batch')
      throw new BatchSQLError(
        'BATCHSQL_INVALID_CONFIG',
        "poisonRows must be 'isolate' or 'fail-batch'",
      )
    this.reusesText = valuesPassPlugins(db)
    // Checked here, once for every dialect: 0 or a negative count became one row per
    // statement without a word, NaN a statement every batch failed on.
    if (!Number.isInteger(adapter.rowsPerStatement) || adapter.rowsPerStatement < 1)
      throw new BatchSQLError(
        'BATCHSQL_INVALID_CONFIG',
        'rowsPerStatement must be a positive integer',
      )
  }

  classify(err: unknown): Classification | undefined {
    return this.adapter.classify(err)
  }

  async process(batch: Batch, ctx: ProcessContext): Promise<ProcessResult> {
    if (this.adapter.init !== undefined && !this.initialised) {
      // Concurrent first batches share one init; a failed init is tried again next batch.
      this.initialising ??= this.adapter.init(this.db).finally(() => {
        this.initialising = undefined
      })
      await this.initialising
      this.initialised = true
    }
    const plan = planBatch(batch, this.adapter)
    try {
      await this.write(plan.groups, ctx)
      return { deduplicated: plan.duplicates }
    } catch (err) {
      // One submitted row alone has nothing to isolate (a merged row of several does).
      if (this.poisonRows === 'fail-batch' || batchSize(batch) < 2 || !this.isPoison(err)) throw err
      const out: Isolation = { failures: [], unmerged: 0 }
      await this.isolate(batch, plan.groups, allRows(plan.groups), ctx, out)
      // Only merges that committed count as deduplicated: a failed merged row's sources are
      // retried (and counted then) or reported, a replayed one's written one by one.
      return { failures: out.failures, deduplicated: plan.duplicates - out.unmerged }
    }
  }

  /**
   * Compiles one statement, reusing the SQL text of an earlier batch of the same shape.
   * `placeholders` forces one placeholder per value even where the dialect binds row lists
   * (what `preview()` shows).
   */
  compile(group: PlannedGroup, chunk: Chunk, placeholders = false): CompiledQuery {
    // A plugin that may rewrite values: every statement through Kysely (plugins.ts).
    if (!this.reusesText) return this.build(group, chunk.start, chunk.end)
    if (this.adapter.bindsRowList && !placeholders) {
      const list = this.compileRowList(group, chunk)
      if (list !== undefined) return list
    }
    // Where rows leave columns to DEFAULT, the text depends on which: compiled every time.
    if (group.defaults) return this.build(group, chunk.start, chunk.end)
    const n = chunk.end - chunk.start
    const key = `${group.key}|${n}`
    // A batch is usually one chunk: bind the group's array itself, no copy.
    const whole = chunk.start === 0 && chunk.end === rowCount(group)
    const params = whole
      ? group.values
      : group.values.slice(chunk.start * group.width, chunk.end * group.width)
    const cached = this.cache.get(key)
    if (typeof cached === 'string') return CompiledQuery.raw(cached, params)
    const compiled = this.build(group, chunk.start, chunk.end)
    // Only reuse text whose parameters are exactly the row values in order; a dialect that
    // binds anything else (or reorders) is compiled every time instead.
    if (cached === undefined)
      this.cache.set(key, sameParameters(compiled.parameters, params) ? compiled.sql : null)
    return compiled
  }

  private build(group: PlannedGroup, start: number, end: number): CompiledQuery {
    const rows: DriverRow[] = []
    for (let r = start; r < end; r++) rows.push(rowAt(group, r))
    return this.buildRows(group.shape, rows)
  }

  private buildRows(shape: InsertShape, rows: readonly DriverRow[]): CompiledQuery {
    const { columns } = shape
    const objects: Record<string, unknown>[] = []
    for (const row of rows) {
      const o: Record<string, unknown> = {}
      // An UNSET column is left out of its row: Kysely writes `default` there. An own property
      // even for a column named "__proto__", which assignment would drop (written DEFAULT).
      for (let i = 0; i < columns.length; i++)
        if (row[i] !== UNSET) setOwnProperty(o, columns[i]!, row[i])
      objects.push(o)
    }
    return this.adapter.buildInsert(this.db, shape, objects).compile()
  }

  /**
   * The SQL text of a one-row statement of `group`'s shape, compiled through the Kysely
   * instance (its plugins apply): what `preview()`'s fingerprint hashes. From the group's first
   * row, a column it leaves to DEFAULT set (the text then depends on the columns only).
   */
  oneRowSql(group: PlannedGroup): string {
    const first = rowAt(group, 0).map((v) => (v === UNSET ? null : v))
    return this.buildRows(group.shape, [first]).sql
  }

  /**
   * The statement as `VALUES ?` bound to the chunk's rows, for dialects that expand row lists.
   * The text comes from Kysely's one-row statement, its one values tuple replaced by `?`;
   * a statement that does not have exactly that form falls back to placeholders.
   */
  private compileRowList(group: PlannedGroup, chunk: Chunk): CompiledQuery | undefined {
    const key = `${group.key}|rows`
    let text = this.cache.get(key)
    if (text === undefined) {
      // The text depends on the columns only: built from a row that sets them all (the driver
      // writes an UNSET value of the rows bound later as DEFAULT itself).
      const first = rowAt(group, chunk.start).map((v) => (v === UNSET ? null : v))
      const one = this.buildRows(group.shape, [first])
      const tuple = `values (${group.shape.columns.map(() => '?').join(', ')})`
      const at = one.sql.indexOf(tuple)
      const single =
        at >= 0 &&
        one.sql.indexOf('?', at + tuple.length) === -1 &&
        one.sql.lastIndexOf('?', at) === -1 &&
        sameParameters(one.parameters, first)
      text = single ? `${one.sql.slice(0, at)}values ?${one.sql.slice(at + tuple.length)}` : null
      this.cache.set(key, text)
    }
    if (text === null) return undefined
    const rows: DriverRow[] = []
    for (let r = chunk.start; r < chunk.end; r++) rows.push(rowAt(group, r))
    return CompiledQuery.raw(text, [rows])
  }

  /** The statements a set of groups runs, in order. */
  statements(groups: readonly PlannedGroup[]): CompiledQuery[] {
    const out: CompiledQuery[] = []
    for (const g of groups) {
      for (const chunk of chunkRows(this.adapter, g)) out.push(this.compile(g, chunk))
    }
    return out
  }

  /** Writes `groups` in one transaction; what it throws is redacted (`redactError`). */
  private async write(groups: readonly PlannedGroup[], ctx: ProcessContext): Promise<void> {
    try {
      await this.writeGroups(groups, ctx)
    } catch (err) {
      const redact = this.adapter.redactError
      // Bounded: a cause chain is the application's too, and could loop.
      for (let e = err, depth = 0; redact && e instanceof Object && depth < 8; depth++) {
        redact.call(this.adapter, e)
        e = (e as { cause?: unknown }).cause
      }
      throw err
    }
  }

  private async writeGroups(groups: readonly PlannedGroup[], ctx: ProcessContext): Promise<void> {
    const check = () => {
      if (ctx.signal.aborted)
        throw new AbortedError('batch aborted before commit', ctx.signal.reason)
    }
    check()
    const { adapter } = this
    if (adapter.writeFast) {
      // Rows as arrays are built only if the fast path reads them (most batches do not).
      const fast = groups.map((g) => ({
        shape: g.shape,
        values: g.values,
        get rows() {
          return Array.from({ length: rowCount(g) }, (_, i) => rowAt(g, i))
        },
      }))
      if (await adapter.writeFast(fast, ctx)) return
    }
    const statements = this.statements(groups)
    if (adapter.runStatements) {
      // Its statements commit on the adapter's own connection: a reply lost in flight there is
      // as much in doubt as the engine's own COMMIT, and gets the same rule.
      let ran: boolean
      try {
        ran = await adapter.runStatements(statements, ctx)
      } catch (err) {
        throw this.lostCommit(err, groups, ctx)
      }
      if (ran) return
    }
    if (statements.length === 1 && adapter.statementsKeepRows !== true) {
      // The connection is taken first: failing to get one is not a statement lost in flight.
      await this.db.connection().execute(async (conn) => {
        // Getting a connection from a busy pool can outlast the attempt: once given up on, the
        // batch (reported of unknown outcome, or abandoned) must not be written after all.
        check()
        try {
          await conn.executeQuery(statements[0]!)
        } catch (err) {
          throw this.lostCommit(err, groups, ctx)
        }
      })
      return
    }
    // A controlled transaction, so that a failed COMMIT's own error reaches lostCommit():
    // `transaction().execute()` rolls back and throws the ROLLBACK's error instead (on a lost
    // connection, "not queryable", which would pass for an error before anything was sent).
    // A connection lost before COMMIT rolls the transaction back: only COMMIT is in doubt.
    const trx = await this.db.startTransaction().execute()
    // (Statements below check the signal first, so a batch given up on while it waited for a
    // connection writes nothing.)
    // Releases the connection even when the ROLLBACK itself fails; the caller's error stands.
    const rollBack = () =>
      trx.isCommitted || trx.isRolledBack
        ? undefined
        : trx
            .rollback()
            .execute()
            .catch(() => {})
    try {
      for (const s of statements) {
        check()
        await trx.executeQuery(s)
      }
    } catch (err) {
      await rollBack()
      throw err
    }
    try {
      await trx.commit().execute()
    } catch (err) {
      await rollBack()
      throw this.lostCommit(err, groups, ctx)
    }
  }

  /** See `lostCommit()`: the dialect says what a lost statement looks like, else `connection`. */
  private lostCommit(err: unknown, groups: readonly PlannedGroup[], ctx: ProcessContext): unknown {
    return lostCommit(err, groups, ctx.attempt, (e) =>
      this.adapter.lostInFlight
        ? this.adapter.lostInFlight(e)
        : (this.adapter.classify(e) ?? builtinClassifier(e))?.reason === 'connection',
    )
  }

  private isPoison(err: unknown): boolean {
    const c = this.adapter.classify(err)
    return c !== undefined && !c.retryable && (c.reason === 'data' || c.reason === 'duplicate_key')
  }

  /** `rows` failed together; find which of them fail on their own. */
  private async isolate(
    batch: Batch,
    groups: readonly PlannedGroup[],
    rows: readonly RowRef[],
    ctx: ProcessContext,
    out: Isolation,
  ): Promise<void> {
    const half = Math.ceil(rows.length / 2)
    for (const part of [rows.slice(0, half), rows.slice(half)]) {
      if (part.length === 0) continue
      try {
        await this.write(subPlan(groups, part), ctx)
      } catch (err) {
        const merged = part.length === 1 ? sourcesOf(groups[part[0]!.group]!, part[0]!.row) : []
        if (part.length > 1 && this.isPoison(err)) {
          await this.isolate(batch, groups, part, ctx, out)
        } else if (merged.length > 1 && this.isPoison(err)) {
          out.unmerged += merged.length - 1
          await this.replaySources(batch, merged, ctx, out.failures)
        } else {
          // A single bad row, or an error that is not about the data (deadlock, connection):
          // these rows fail with it, and the executor retries them if it is retryable. Rows
          // already committed by other halves are never sent again.
          for (const r of part) {
            const sources = sourcesOf(groups[r.group]!, r.row)
            out.unmerged += sources.length - 1
            for (const index of sources) out.failures.push({ index, error: err })
          }
        }
      }
    }
  }

  /**
   * A row merged from several submitted rows (same key) failed on its data: one caller's bad
   * value must not fail another's good row. The submitted rows are written one by one, in
   * submit order, as if never merged; each bad one fails alone. After an error that is not
   * about the data (a deadlock), the rest are not attempted but fail with it, so that the
   * executor's retry writes them, in order, after it.
   */
  private async replaySources(
    batch: Batch,
    sources: readonly number[],
    ctx: ProcessContext,
    failures: RowFailure[],
  ): Promise<void> {
    const rows = batch.rows
    for (let i = 0; i < sources.length; i++) {
      const index = sources[i]!
      const one = planBatch({ schema: batch.schema, rows: [rows[index]!] }, this.adapter)
      try {
        await this.write(one.groups, ctx)
      } catch (err) {
        if (this.isPoison(err)) {
          failures.push({ index, error: err })
          continue
        }
        for (const rest of sources.slice(i)) failures.push({ index: rest, error: err })
        return
      }
    }
  }

  expedite(): void {
    this.adapter.expedite?.()
  }

  async close(): Promise<void> {
    await this.adapter.close?.()
    if (this.options.release) await this.options.release()
    else if (this.options.ownsDb) await this.db.destroy()
  }
}
