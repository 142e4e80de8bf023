import type { Batch } from './contract.js'
import { Request } from './request.js'
import type { AnyRow, Schema } from './schema.js'
import type { Value } from './values.js'

/**
 * A batch held as one row-major array of values (what plain-object `submit()` and
 * `submitMany()` rows become) instead of one Request per row. Why: on a fast sink (SQLite in memory) the two objects per row that a
 * Request costs, and the garbage they make, were a third of BatchSQL's overhead. Its `rows`
 * are built on first access, for the paths that need objects: failure reports, coalescing
 * duplicate keys, processors that do not read `values`.
 */
export class FlatBatch<Row extends AnyRow = AnyRow> implements Batch<Row> {
  private built: Request<Row>[] | undefined = undefined

  constructor(
    readonly schema: Schema<Row>,
    readonly values: readonly (Value | undefined)[],
  ) {}

  get rows(): readonly Request<Row>[] {
    if (this.built === undefined) {
      this.built = []
      const n = this.values.length / this.schema.columns.length
      pushRequests(this.built, this.schema, this.values, 0, n)
    }
    return this.built
  }
}

/** Appends rows `[start, end)` of row-major `values` to `out` as Requests. */
export function pushRequests<Row extends AnyRow>(
  out: Request<Row>[],
  schema: Schema<Row>,
  values: readonly (Value | undefined)[],
  start: number,
  end: number,
): void {
  const width = schema.columns.length
  for (let r = start; r < end; r++) {
    const req = new Request(schema)
    for (let c = 0; c < width; c++) req.values[c] = values[r * width + c]
    out.push(req)
  }
}

/** Rows in a batch, without building the Request objects of a flat batch. */
export function batchSize(batch: Batch): number {
  return batch.values === undefined
    ? batch.rows.length
    : batch.values.length / batch.schema.columns.length
}
