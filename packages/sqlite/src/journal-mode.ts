import { BatchSQLError } from '@batchsql/core'

/**
 * Journal modes BatchSQL refuses to write through. It rolls back every batch that fails (whole,
 * or to a savepoint for group commit and poison-row isolation), and acknowledges a batch once
 * its COMMIT returns:
 * - `OFF` (better-sqlite3 allows it only in unsafe mode): ROLLBACK is undefined. Rows of a
 *   failed batch stayed written, were reported failed, then written again; one bad row among
 *   pages spilled to the file left the database malformed.
 * - `MEMORY` on a file: the journal lives in memory, so a transaction whose pages were spilled
 *   to the file cannot be rolled back after an I/O error (nor after a crash): the file was
 *   left corrupt, rows acknowledged before the fault gone (plain better-sqlite3 does the same).
 *   On an in-memory database, where `memory` is SQLite's default, there is no file to lose.
 */
export function refuseJournalMode(mode: unknown, inMemory: boolean, schema = 'main'): void {
  const m = String(mode).toLowerCase()
  if (m !== 'off' && (m !== 'memory' || inMemory)) return
  const which = schema === 'main' ? 'an SQLite database file' : `the attached database "${schema}"`
  throw new BatchSQLError(
    'BATCHSQL_INVALID_CONFIG',
    `BatchSQL cannot write through ${which} with journal_mode = ${m.toUpperCase()}: a failed batch could not be rolled back safely (use WAL, DELETE, TRUNCATE or PERSIST)`,
  )
}

/** One database of a connection, as `PRAGMA database_list` lists it ('' file: in memory). */
export interface AttachedDatabase {
  readonly name: string
  readonly file: string
}

/** `PRAGMA <schema>.journal_mode`, the schema name quoted. */
export const journalModePragma = (schema: string) =>
  `PRAGMA "${schema.replaceAll('"', '""')}".journal_mode`

/**
 * Every database of the connection (main, temp, attached ones: a table `aux.t` writes to
 * `aux`), each judged by its own journal mode, as listed when the pipeline is made.
 */
export function refuseJournalModes(
  databases: readonly AttachedDatabase[],
  modeOf: (schema: string) => unknown,
): void {
  for (const { name, file } of databases) refuseJournalMode(modeOf(name), file === '', name)
}
