import { keyOrderWithRounds, keyPart } from '@batchsql/core'
import { afterAll, describe, expect, it } from 'vitest'
import { barePool } from './target.js'

/**
 * The ordering gate and the planner take text keys a collation may store as one row for one
 * key (core's `foldForOrder()`: a later write must not commit before, or in a statement ahead
 * of, an earlier one of the same row). Checked here against the server's own equivalences:
 * every character of the Latin, Greek and Cyrillic blocks, other scripts' digits, ignorable
 * characters and a few words, grouped by each collation a MariaDB or MySQL user is likely to
 * have; every group must be one key to BatchSQL. (Before, MariaDB's default took weiß for weis
 * and its Unicode collations Łódź for Lodz while BatchSQL kept them apart: QA 2026-11-29.)
 */
const bare = barePool()
afterAll(() => bare.end())

const ranges: [number, number][] = [
  [0x20, 0x24f], // Basic Latin to Latin Extended-B
  [0x370, 0x3ff], // Greek
  [0x400, 0x4ff], // Cyrillic
  [0x660, 0x669], // Arabic-Indic digits
  [0x6f0, 0x6f9],
  [0x966, 0x96f], // Devanagari digits
  [0x1e00, 0x1eff], // Latin Extended Additional
  [0x2c60, 0x2c7f], // Latin Extended-C
  [0xff10, 0xff19], // fullwidth digits and letters
  [0xff21, 0xff3a],
  [0xff41, 0xff5a],
  [0x1f600, 0x1f64f], // emoji: one weight for everything past U+FFFF in utf8mb4_general_ci
  [0x10000, 0x1000f], // Linear B
]
const words = [
  'ss',
  'ae',
  'oe',
  'th',
  'dz',
  'weiß',
  'weis',
  'weiss',
  'WEISS',
  'Łódź',
  'Lodz',
  'STRAẞE',
  'straße',
  'strasse',
  'a\u200bb',
  'a\u00adb',
  'a\u200db',
  'ab',
  'a b',
  'Æsir',
  'aesir',
  'Øre',
  'ore',
  '١٢',
  '12',
  'team-😀',
  'team-😁',
]

function strings(): string[] {
  const out = new Set(words)
  for (const [from, to] of ranges)
    for (let cp = from; cp <= to; cp++) {
      const ch = String.fromCodePoint(cp)
      // A lone combining mark or control character is no key anyone writes, nor is the
      // Greek iota subscript alone (U+037A, NFKD makes it a combining mark).
      if (!/[\p{M}\p{C}\u037a]/u.test(ch)) out.add(ch)
    }
  return [...out]
}

/** Whether BatchSQL takes all of `keys` for one key (they all tie in the key order). */
function oneKey(keys: readonly string[]): boolean {
  const { rounds } = keyOrderWithRounds(keys.map((k) => keyPart(k, 'string')))
  return rounds !== undefined && Math.max(...rounds) === keys.length - 1
}

describe('text keys a collation stores as one row are one key to the ordering', () => {
  it('every group of equal strings under the usual collations', async () => {
    const table = `fold_collations_${process.pid}`
    await bare.query(`DROP TABLE IF EXISTS \`${table}\``)
    await bare.query(
      `CREATE TABLE \`${table}\` (c VARCHAR(16) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL)`,
    )
    try {
      const all = strings()
      await bare.query(`INSERT INTO \`${table}\` (c) VALUES ?`, [all.map((s) => [s])])
      const [available] = (await bare.query(
        "SHOW COLLATION WHERE Collation IN ('utf8mb4_general_ci', 'utf8mb4_unicode_ci', 'utf8mb4_unicode_520_ci', 'utf8mb4_uca1400_ai_ci', 'utf8mb4_0900_ai_ci')",
      )) as unknown as [{ Collation: string }[]]
      const collations = available.map((r) => r.Collation)
      expect(collations).toContain('utf8mb4_general_ci')
      expect(collations).toContain('utf8mb4_unicode_520_ci')
      const split: string[] = []
      let groups = 0
      for (const collation of collations) {
        const [rows] = (await bare.query(
          `SELECT GROUP_CONCAT(HEX(c) SEPARATOR ',') AS g FROM \`${table}\` GROUP BY c COLLATE ${collation} HAVING COUNT(*) > 1`,
        )) as unknown as [{ g: string }[]]
        for (const { g } of rows) {
          const members = g.split(',').map((h) => Buffer.from(h, 'hex').toString('utf8'))
          groups++
          if (!oneKey(members)) split.push(`${collation}: ${members.join(' ')}`)
        }
      }
      expect(groups).toBeGreaterThan(100)
      expect(split).toEqual([])
    } finally {
      await bare.query(`DROP TABLE IF EXISTS \`${table}\``)
    }
  })
})
