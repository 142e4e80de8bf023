import type { BatchFailure } from './contract.js'

type Reader = (r: IteratorResult<BatchFailure>) => void
const DONE: IteratorResult<BatchFailure> = { value: undefined, done: true }

/**
 * A throwing `onError` must not break the pipeline, nor end the process (rethrown, it would
 * be an uncaught exception, and every row still buffered lost with it): a process warning
 * shows it, its error as the detail.
 */
function handlerFailed(err: unknown): void {
  process.emitWarning('BatchSQL: onError threw; the failure it was given is not reported again', {
    code: 'BATCHSQL_ONERROR_FAILED',
    detail: err instanceof Error ? (err.stack ?? err.message) : String(err),
  })
}

/**
 * Final failures on their way to the application: to the `onError` handler when there is one
 * (the iterator then gets nothing), else buffered for the async iterator.
 * The buffer is bounded: when nobody reads and it is full, newer events are dropped, but
 * the drop is counted (`dropped`) and reported to the metrics reporter, never silent.
 */
export class ErrorStream implements AsyncIterable<BatchFailure> {
  private readonly buffer: BatchFailure[] = []
  /** Rows of the buffered failures. */
  private bufferedRows = 0
  private readers: Reader[] = []
  private ended = false
  /** Iterators that asked for a failure and have not finished or been closed. */
  private attached = 0
  dropped = 0

  constructor(
    private readonly capacity: number,
    /** Rows (see `hasRoom`). */
    private readonly readerAllowance: number,
    private readonly onDrop: (count: number) => void,
    private readonly handler?: (failure: BatchFailure) => void,
  ) {}

  /**
   * One batch's failures, admitted or dropped together: a batch whose rows fail on their own
   * reports one failure per row, all at once, so a reader taking one per tick could never
   * keep a batch of more than `capacity` failing rows from overflowing the buffer. The buffer
   * therefore takes a batch's failures whole while it is below its limit.
   */
  pushAll(failures: readonly BatchFailure[]): void {
    const admit = this.handler !== undefined || this.hasRoom()
    for (const f of failures) this.push(f, admit)
  }

  /**
   * `capacity` failures while nobody reads. While an iterator is being read, also failures
   * holding up to `readerAllowance` rows: batches that fail together (a dropped connection
   * fails every batch in flight, and `close()` every row still buffered) settle before the
   * reader gets a turn, and a reader that keeps up must not lose failures to that burst. The
   * allowance is what the pipeline holds at most (its buffer and in-flight flushes): rows it
   * held in memory anyway. Counted in rows, not failures: a table failing whole batches
   * reports one failure per batch of up to `flushSize` rows, and a reader that kept reading
   * but fell behind (shipping each failure to a remote log) once let 14,000 such failures,
   * 7 M rows, pile up (about 2 GB).
   */
  private hasRoom(): boolean {
    if (this.buffer.length < this.capacity) return true
    return this.attached > 0 && this.bufferedRows < this.readerAllowance
  }

  private push(failure: BatchFailure, admit: boolean): void {
    if (this.handler) {
      try {
        const out: unknown = this.handler(failure)
        // An async handler's rejection too.
        if (typeof (out as PromiseLike<unknown> | undefined)?.then === 'function')
          (out as PromiseLike<unknown>).then(undefined, handlerFailed)
      } catch (err) {
        handlerFailed(err)
      }
      return
    }
    const reader = this.readers.shift()
    if (reader) {
      reader({ value: failure, done: false })
      return
    }
    if (!admit) {
      this.dropped++
      this.onDrop(1)
      // Once per pipeline, where a log will show it: failures nobody reads are otherwise
      // visible only in stats() and a metric nobody may be watching.
      if (this.dropped === 1)
        process.emitWarning(
          `BatchSQL: the errors buffer is full (${this.buffer.length} failures not yet read), so newer failures are dropped (counted in stats().droppedErrors); read \`errors\` faster or pass \`onError\``,
          { code: 'BATCHSQL_DROPPED_ERRORS' },
        )
      return
    }
    this.buffer.push(failure)
    this.bufferedRows += failure.rows.length
  }

  /** Ends iteration once the buffered events are read. */
  end(): void {
    this.ended = true
    for (const r of this.readers) r({ value: undefined, done: true })
    this.readers = []
  }

  get size(): number {
    return this.buffer.length
  }

  /**
   * An iterator over the failures. Several iterators share one queue: each failure goes to one
   * of them. `return()` (a `break` out of `for await`) settles this iterator's waiting `next()`
   * and withdraws it, so that no later failure goes to a reader that is gone.
   */
  [Symbol.asyncIterator](): AsyncIterator<BatchFailure> {
    const waiting = new Set<Reader>()
    let closed = false
    let attached = false
    const detach = () => {
      if (attached) this.attached--
      attached = false
    }
    return {
      next: () => {
        if (closed) return Promise.resolve(DONE)
        if (!attached) {
          attached = true
          this.attached++
        }
        const v = this.buffer.shift()
        if (v) {
          this.bufferedRows -= v.rows.length
          return Promise.resolve({ value: v, done: false })
        }
        if (this.ended) {
          detach()
          return Promise.resolve(DONE)
        }
        return new Promise((resolve) => {
          const reader: Reader = (r) => {
            waiting.delete(reader)
            if (r.done) detach()
            resolve(r)
          }
          waiting.add(reader)
          this.readers.push(reader)
        })
      },
      return: () => {
        closed = true
        detach()
        if (waiting.size > 0) {
          this.readers = this.readers.filter((r) => !waiting.has(r))
          for (const r of [...waiting]) r(DONE)
        }
        return Promise.resolve(DONE)
      },
    }
  }
}
