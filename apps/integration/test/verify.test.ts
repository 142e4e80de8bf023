import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import type { Backend } from '../src/backends/backend.js'
import { type AppRow, canonicalLine } from '../src/rows.js'
import { intact, verify } from '../src/verify.js'

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
})
