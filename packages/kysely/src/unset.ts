/**
 * A column a row did not set, in a statement whose other rows set it: written as `DEFAULT`,
 * which is what leaving the column out gives. Only in dialects whose multi-row VALUES take
 * `DEFAULT` (`SqlDialectAdapter.valuesTakeDefault`). The engine leaves it out of the row it
 * hands to Kysely (which writes `default` there); a driver that inlines row lists itself
 * (mysql2) writes it through `toSqlString()`. A fast path that cannot write it (COPY) must
 * hand such a batch back (`writeFast` returns `false`).
 */
export const UNSET: { readonly toSqlString: () => string } = Object.freeze({
  toSqlString: () => 'DEFAULT',
})

/** Whether any group's values hold `UNSET` (a batch of rows of different column sets). */
export function hasUnset(groups: readonly { readonly values: readonly unknown[] }[]): boolean {
  for (const g of groups) if (g.values.includes(UNSET)) return true
  return false
}
