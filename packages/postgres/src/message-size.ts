import type { CompiledQuery } from 'kysely'

/**
 * What a statement's Bind message weighs as pg sends it, against the 1 GiB a PostgreSQL server
 * reads one message into (its buffers are limited to MaxAllocSize, 1 GiB less a byte, whatever
 * the protocol allows). pg sends a string parameter as its UTF-8 and a Buffer as binary, each
 * with a 4-byte length. Past the limit the server closes the connection while the message is
 * still being written: every row of the batch was reported failed as `connection` after its
 * retries (each rebuilding the message: 8.6 GB of memory for one 1.1 GB value, QA 2026-11-29).
 * The engine cuts statements well under the limit, so only one row's own values can pass it:
 * refused here before anything is sent, that row alone fails (`data`), the others commit.
 * (A single value cannot be 1 GiB in PostgreSQL anyway: a field is at most 1 GB.)
 */
export const POSTGRES_MAX_MESSAGE_BYTES = 2 ** 30

// The message's own header, the statement name and the format codes, with room to spare.
const MESSAGE_OVERHEAD = 1024

/** The Bind message's bytes when over `limit`, else undefined. Exact only where it matters. */
export function oversizeBind(
  statement: CompiledQuery,
  limit = POSTGRES_MAX_MESSAGE_BYTES,
): number | undefined {
  const params = statement.parameters
  // An upper bound first (a UTF-16 unit is at most 3 bytes of UTF-8): one pass of length
  // reads, no encoding, for the statements that are nowhere near the limit (all but one's).
  let bound = MESSAGE_OVERHEAD + statement.sql.length * 3
  for (let i = 0; i < params.length; i++) bound += 4 + upperBytes(params[i])
  if (bound <= limit) return undefined
  let bytes = MESSAGE_OVERHEAD + Buffer.byteLength(statement.sql)
  for (let i = 0; i < params.length; i++) {
    const v = params[i]
    bytes += 4 + (typeof v === 'string' ? Buffer.byteLength(v) : upperBytes(v))
  }
  return bytes > limit ? bytes : undefined
}

function upperBytes(v: unknown): number {
  if (typeof v === 'string') return v.length * 3
  if (v instanceof Uint8Array) return v.byteLength
  return 64 // a number, bigint, boolean or date as text; null sends no bytes
}

/**
 * The error for a Bind message over the limit, raised before it is sent: shaped as a server
 * error of SQLSTATE 54000 (program_limit_exceeded), classified `data` and isolated.
 */
export function messageTooLargeError(bytes: number, limit = POSTGRES_MAX_MESSAGE_BYTES) {
  const message = `statement of ${bytes} bytes as sent is larger than the ${limit} bytes a PostgreSQL server reads one message into; not sent`
  return Object.assign(new Error(message), { code: '54000', severity: 'ERROR' })
}
