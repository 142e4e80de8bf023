import { defineSchema, isInDoubt, Request } from '@batchsql/core'
import { describe, expect, it } from 'vitest'
import { lostCommit } from '../src/lost-commit.js'
import { planBatch } from '../src/plan.js'
import { UNSET } from '../src/unset.js'
import { planningAdapter } from './fake-adapter.js'

// What a statement lost in flight becomes: retried (marked in doubt) only when running it
// again can only rewrite the same rows. SQL behaviour itself is tested on real servers by the
// conformance suite; this is the decision alone.
const ignore = defineSchema({
  table: 't',
  columns: ['id', 'v'],
  strategy: 'ignore',
  conflictColumns: ['id'],
  dedupe: 'none',
})
const lost = () => Object.assign(new Error('connection lost'), { code: 'ECONNRESET' })
const decide = (rows: Record<string, unknown>[]) => {
  const plan = planBatch(
    { schema: ignore, rows: rows.map((r) => Request.from(ignore, r as never)) },
    planningAdapter({ valuesTakeDefault: true }),
  )
  const err = lost()
  const out = lostCommit(err, plan.groups, 1, () => true)
  return { plan, err, out }
}

describe('lostCommit', () => {
  it('retries a batch whose every row names its key', () => {
    const { err, out } = decide([{ id: 1, v: 'a' }, { id: 2 }])
    expect(out).toBe(err)
    expect(isInDoubt(out)).toBe(true)
  })

  it('reports at once a batch with a row that leaves its key to the default, also inside one statement with DEFAULT', () => {
    // One statement (DEFAULT fill): the key column is there, holding UNSET for row 2. A retry
    // would give that row a second serial id: written twice.
    const { plan, out } = decide([{ id: 1, v: 'a' }, { v: 'b' }])
    expect(plan.groups).toHaveLength(1)
    expect(plan.groups[0]!.values).toContain(UNSET)
    expect(out).toMatchObject({ code: 'BATCHSQL_OUTCOME_UNKNOWN', rowCount: 2 })
    expect(isInDoubt(out)).toBe(false)
  })
})
