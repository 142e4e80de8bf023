import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import type { Backend } from '../src/backends/backend.js'
import { type AppRow, canonicalLine } from '../src/rows.js'
import { formatIntegrity, intact, verify } from '../src/verify.js'

const row = (id: number, payload = `p${id}`): AppRow => ({
  id,
  worker: 0,
  seq: id,
  payload,
  amount: 1n,
  score: 1,
  created: new Date(0),
})
const digest = (r: AppRow) =>
  BigInt(`0x${createHash('sha256').update(canonicalLine(r)).digest('hex').slice(0, 32)}`)
/** What the app expects: rows 1..5. */
const expected = () => new Map([1, 2, 3, 4, 5].map((id) => [String(id), digest(row(id))]))
/** A backend whose table reads back as `rows`. */
const reading = (rows: AppRow[]) =>
  ({
    async readBack(_table: string, onLine: (line: string) => void) {
      for (const r of rows) onLine(canonicalLine(r))
    },
  }) as unknown as Backend

describe('integrity verification', () => {
  it('passes exactly when every expected row is there once with its content', async () => {
    const v = await verify(expected(), reading([1, 2, 3, 4, 5].map((id) => row(id))), 't')
    expect(v).toMatchObject({ matchingRows: 5, integrityRate: 100, duplicateRows: 0 })
    expect(intact(v)).toBe(true)
  })

  it('does not let a missing row and a duplicated one cancel out', async () => {
    // Row 5 lost, row 1 read (or written) twice: the same count as the expected table.
    const v = await verify(expected(), reading([1, 1, 2, 3, 4].map((id) => row(id))), 't')
    expect(v).toMatchObject({ foundRows: 5, missingRows: 1, duplicateRows: 1, matchingRows: 4 })
    expect(v.integrityRate).toBeLessThan(100)
    expect(intact(v)).toBe(false)
  })

  it('catches a duplicate alone, a changed value and an extra row', async () => {
    const dup = await verify(expected(), reading([1, 2, 3, 4, 5, 5].map((id) => row(id))), 't')
    expect(dup.duplicateRows).toBe(1)
    expect(intact(dup)).toBe(false)
    const changed = [1, 2, 3, 4].map((id) => row(id)).concat(row(5, 'tampered'))
    const wrong = await verify(expected(), reading(changed), 't')
    expect(wrong.wrongRows).toBe(1)
    expect(intact(wrong)).toBe(false)
    const extra = await verify(expected(), reading([1, 2, 3, 4, 5, 6].map((id) => row(id))), 't')
    expect(extra.unexpectedRows).toBe(1)
    expect(intact(extra)).toBe(false)
  })

  it('accepts a row of unknown outcome once or not at all, never twice', async () => {
    const doubt = new Set(['4', '5'])
    // Row 4 written, row 5 not: both fine, and the counts say so.
    const some = await verify(expected(), reading([1, 2, 3, 4].map((id) => row(id))), 't', doubt)
    expect(some).toMatchObject({ missingRows: 0, inDoubtRows: 2, inDoubtFound: 1, expectedRows: 4 })
    expect(intact(some)).toBe(true)
    // Row 4 written twice (a write re-sent): a duplicate, whatever was reported.
    const twice = [1, 2, 3, 4, 4].map((id) => row(id))
    const doubled = await verify(expected(), reading(twice), 't', doubt)
    expect(doubled.duplicateRows).toBe(1)
    expect(intact(doubled)).toBe(false)
    // A row not in doubt is still missing when absent.
    const lost = await verify(expected(), reading([1, 2, 4].map((id) => row(id))), 't', doubt)
    expect(lost.missingRows).toBe(1)
    expect(intact(lost)).toBe(false)
  })

  it('counts rows reported failed for certain that are in the table anyway', async () => {
    // Rows 3 and 5 reported failed: 3 is there (a broken promise), 5 is not (as reported).
    const v = await verify(
      expected(),
      reading([1, 2, 3, 4].map((id) => row(id))),
      't',
      new Set(),
      new Set(['3', '5']),
    )
    expect(v).toMatchObject({ failedFound: 1, missingRows: 1 })
  })
})

describe('integrity as printed', () => {
  it('never reads 100 for a rate below it (one wrong row in 250,000), and 100 when it is', () => {
    const rate = (100 * 249_999) / 250_000
    expect(formatIntegrity(rate, 3)).toBe('99.999')
    expect(formatIntegrity(rate, 2)).toBe('99.99')
    expect(formatIntegrity(100, 3)).toBe('100.000')
    expect(formatIntegrity(99.5, 2)).toBe('99.50')
  })
})
