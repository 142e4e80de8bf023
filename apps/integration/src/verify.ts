/**
 * Expected vs found. The expected state is recomputed from the scenario's deterministic
 * rows (applying the strategy's semantics in submit order, poison rows left out); the found
 * state is read back from the database after `close()` resolved. Both sides become
 * canonical lines, compared by id and checksummed: one wrong column value anywhere changes the checksum.
 */
import { createHash } from 'node:crypto'
import { type AppRow, applyExpected, canonicalLine } from './rows.js'
import type { Scenario } from './scenarios.js'

export interface Verification {
  expectedRows: number
  foundRows: number
  /** Expected rows present with exactly the expected content. */
  matchingRows: number
  missingRows: number
  unexpectedRows: number
  wrongRows: number
  expectedChecksum: string
  foundChecksum: string
  /** matching ÷ expected, in percent (100 = every row there, every value right, nothing extra). */
  integrityRate: number
}

/** Rows expected in the table, by id, as canonical lines; `submittedCount` limits producers that stopped early. */
export function expectedLines(
  s: Scenario,
  submittedPerWorker: readonly number[],
): Map<string, string> {
  const state = new Map<number, AppRow>()
  for (let w = 0; w < s.workers; w++) {
    const n = submittedPerWorker[w] ?? 0
    for (let seq = 0; seq < n; seq++) {
      if (s.isPoison?.(w, seq)) continue
      applyExpected(state, s.row(w, seq), s.strategy)
    }
  }
  const out = new Map<string, string>()
  for (const [id, row] of state) out.set(String(id), canonicalLine(row))
  return out
}

/**
 * An order-independent checksum of a multiset of lines: the sum (mod 2^128) of each line's
 * SHA-256 prefix, with the count. No sorted copy of hundreds of thousands of lines is needed.
 */
function checksum(lines: Iterable<string>): string {
  let sum = 0n
  let count = 0
  for (const l of lines) {
    sum =
      (sum + BigInt(`0x${createHash('sha256').update(l).digest('hex').slice(0, 32)}`)) &
      ((1n << 128n) - 1n)
    count++
  }
  return `${count}:${sum.toString(16).padStart(32, '0')}`
}

export function verify(expected: Map<string, string>, found: readonly string[]): Verification {
  let matching = 0
  let wrong = 0
  let unexpected = 0
  const seen = new Set<string>()
  for (const line of found) {
    const id = line.slice(0, line.indexOf('|'))
    seen.add(id)
    const want = expected.get(id)
    if (want === undefined) unexpected++
    else if (want === line) matching++
    else wrong++
  }
  let missing = 0
  for (const id of expected.keys()) if (!seen.has(id)) missing++
  const expectedRows = expected.size
  return {
    expectedRows,
    foundRows: found.length,
    matchingRows: matching,
    missingRows: missing,
    unexpectedRows: unexpected,
    wrongRows: wrong,
    expectedChecksum: checksum(expected.values()),
    foundChecksum: checksum(found),
    integrityRate:
      expectedRows === 0
        ? found.length === 0
          ? 100
          : 0
        : (100 * matching) / Math.max(expectedRows, found.length),
  }
}
