import {
  CamelCasePlugin,
  DeduplicateJoinsPlugin,
  type Kysely,
  type KyselyPlugin,
  ParseJSONResultsPlugin,
  WithSchemaPlugin,
} from 'kysely'

/**
 * Kysely's own plugins that never touch an INSERT's values: they rename identifiers or only
 * act on results. Matched by constructor, not `instanceof`: a subclass may rewrite anything.
 */
const KEEP_VALUES: ReadonlySet<unknown> = new Set([
  CamelCasePlugin,
  WithSchemaPlugin,
  ParseJSONResultsPlugin,
  DeduplicateJoinsPlugin,
])

/**
 * Whether a statement's text compiled once can be bound to later rows' values as they are:
 * only when every plugin of `db` is one of the above. A plugin of yours may rewrite values
 * (lower-case an email, say), and text reused past it would bind the raw values: a batch's
 * first rows decided whether the plugin applied to every later one (QA, 2026-11-29). With any
 * other plugin each statement is compiled through Kysely (plugins apply; it costs the cache).
 */
export function valuesPassPlugins(db: Kysely<any>): boolean {
  const plugins: readonly KyselyPlugin[] = db.getExecutor().plugins
  return plugins.every((p) => KEEP_VALUES.has(p.constructor))
}
