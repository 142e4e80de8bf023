/**
 * Expected vs found. The expected state is recomputed from the scenario's deterministic
 * rows (applying the strategy's semantics in submit order, poison rows left out); the found
 * state is read back from the database after `close()` resolved. Both sides become
 * canonical lines, compared row by row (by digest, so a 250,000-row table does not sit in
 * memory twice) and checksummed: one wrong column value anywhere is caught.
 */
import { createHash } from 'node:crypto'
import type { Backend } from './backends/backend.js'
import { type AppRow, applyExpected, canonicalLine } from './rows.js'
import type { Scenario } from './scenarios.js'

export interface Verification {
  /** Rows that must be there, plus the rows of unknown outcome that were found. */
  expectedRows: number
  foundRows: number
  /** Expected rows present with exactly the expected content. */
  matchingRows: number
  missingRows: number
  /** Rows found for an id that was not expected. */
  unexpectedRows: number
  /** Rows found for an id already found: the same row read back (or written) twice. */
  duplicateRows: number
  wrongRows: number
  /**
   * Rows reported to their submitter as of unknown outcome (`BATCHSQL_OUTCOME_UNKNOWN`): each
   * may be there once or not at all; `inDoubtFound` of them were there.
   */
  inDoubtRows: number
  inDoubtFound: number
  /** Rows reported failed for certain (not of unknown outcome) that are in the table: each a broken promise. */
  failedFound: number
  expectedChecksum: string
  foundChecksum: string
  /** matching ÷ max(expected, found), in percent (100 = every row there, every value right, nothing extra). */
  integrityRate: number
}

const MASK = (1n << 128n) - 1n

/** SHA-256 prefix of a line: 128 bits, as the per-row digest and the checksum's term. */
function digest(line: string): bigint {
  return BigInt(`0x${createHash('sha256').update(line).digest('hex').slice(0, 32)}`)
}

/** An order-independent checksum of a multiset of lines: the count and the sum of digests mod 2^128. */
class Checksum {
  private sum = 0n
  count = 0
  add(d: bigint): void {
    this.sum = (this.sum + d) & MASK
    this.count++
  }
  toString(): string {
    return `${this.count}:${this.sum.toString(16).padStart(32, '0')}`
  }
}

/** Digest of the row expected for each id; `submittedPerWorker` covers producers that stopped early. */
export function expectedDigests(
  s: Scenario,
  submittedPerWorker: readonly number[],
): Map<string, bigint> {
  const out = new Map<string, bigint>()
  if (s.strategy === 'insert') {
    // Every id is written once: digest each row as it is generated, keep no rows.
    for (let w = 0; w < s.workers; w++) {
      const n = submittedPerWorker[w] ?? 0
      for (let seq = 0; seq < n; seq++) {
        if (s.isPoison?.(w, seq)) continue
        const row = s.row(w, seq)
        out.set(String(row.id), digest(canonicalLine(row)))
      }
    }
    return out
  }
  const state = new Map<number, AppRow>()
  for (let w = 0; w < s.workers; w++) {
    const n = submittedPerWorker[w] ?? 0
    for (let seq = 0; seq < n; seq++) {
      if (s.isPoison?.(w, seq)) continue
      applyExpected(state, s.row(w, seq), s.strategy)
    }
  }
  for (const [id, row] of state) out.set(String(id), digest(canonicalLine(row)))
  return out
}

/** Every expected row there once with its content, nothing else: each count and the checksums agree. */
export function intact(v: Verification): boolean {
  return (
    v.missingRows === 0 &&
    v.wrongRows === 0 &&
    v.unexpectedRows === 0 &&
    v.duplicateRows === 0 &&
    v.foundRows === v.expectedRows &&
    v.expectedChecksum === v.foundChecksum
  )
}

export async function verify(
  expected: Map<string, bigint>,
  backend: Backend,
  table: string,
  inDoubt: ReadonlySet<string> = new Set(),
  failed: ReadonlySet<string> = new Set(),
): Promise<Verification> {
  let matching = 0
  let wrong = 0
  let unexpected = 0
  let duplicate = 0
  const seen = new Set<string>()
  const found = new Checksum()
  await backend.readBack(table, (line) => {
    const id = line.slice(0, line.indexOf('|'))
    const d = digest(line)
    found.add(d)
    // A second row for an id is never a match, even with the right content: else a missing
    // row and a duplicated one would cancel out in the counts.
    if (seen.has(id)) {
      duplicate++
      return
    }
    seen.add(id)
    const want = expected.get(id)
    if (want === undefined) unexpected++
    else if (want === d) matching++
    else wrong++
  })
  // A row of unknown outcome is expected only if it is there (once: a second copy is counted
  // duplicated above, whatever was reported).
  let missing = 0
  let inDoubtFound = 0
  let failedFound = 0
  for (const id of failed) if (seen.has(id)) failedFound++
  const exp = new Checksum()
  for (const [id, d] of expected) {
    const found = seen.has(id)
    if (inDoubt.has(id)) {
      if (!found) continue
      inDoubtFound++
    } else if (!found) missing++
    exp.add(d)
  }
  const expectedRows = exp.count
  const denominator = Math.max(expectedRows, found.count)
  return {
    expectedRows,
    foundRows: found.count,
    matchingRows: matching,
    missingRows: missing,
    unexpectedRows: unexpected,
    duplicateRows: duplicate,
    wrongRows: wrong,
    inDoubtRows: inDoubt.size,
    inDoubtFound,
    failedFound,
    expectedChecksum: exp.toString(),
    foundChecksum: found.toString(),
    integrityRate: denominator === 0 ? 100 : (100 * matching) / denominator,
  }
}

/**
 * `rate` (percent) with `digits` decimals, rounded down: a rate below 100 never reads as 100
 * (toFixed rounds up: one wrong row in 250,000 read "integrity 100.000%" on a failed scenario).
 */
export function formatIntegrity(rate: number, digits: number): string {
  const scale = 10 ** digits
  return (Math.floor(rate * scale) / scale).toFixed(digits)
}
