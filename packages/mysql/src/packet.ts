/**
 * A statement's size against the server's `max_allowed_packet`, measured before it is sent:
 * mysql2's `query()` inlines the values on the client, so the packet is the whole SQL text.
 */
import { UNSET } from '@batchsql/kysely'
import mysql from 'mysql2'
import { redactMysqlError } from './classify.js'

// What a value adds to the statement mysql2 formats besides its own text: a separator (`, `)
// and two quotes, or a row's two parentheses; for bytes the X of X'hex' too.
const AROUND = 4
// The whole of a number (at most 25 characters: `-0.0000012345678901234567`), NULL, a
// boolean or DEFAULT, with its separator.
const SCALAR = 32

/**
 * At most the bytes `values` take in the statement mysql2 formats: a string's UTF-16 units
 * each become 1 to 3 UTF-8 bytes, or a 2-byte escape; bytes become X'hex'. Anything unusual
 * (an object mysql2 would stringify) counts as too large, so that it is measured exactly. Close
 * to the engine's own estimate (`chunks.ts`), so that statements it cut are rarely measured.
 */
function boundBytes(values: readonly unknown[]): number {
  let n = 0
  for (let i = 0; i < values.length; i++) {
    const v = values[i]
    if (typeof v === 'string') n += v.length * 3 + AROUND
    else if (typeof v === 'number' || v === null || v === undefined || typeof v === 'boolean')
      n += SCALAR
    else if (Array.isArray(v)) n += boundBytes(v) + AROUND
    else if (v instanceof Uint8Array) n += v.byteLength * 2 + AROUND + 1
    else if (typeof v === 'bigint') n += v.toString().length + AROUND
    else if (v === UNSET) n += SCALAR
    else return Number.POSITIVE_INFINITY
  }
  return n
}

/**
 * At least the bytes `values` take in the statement mysql2 formats, read off their lengths
 * alone: a string's UTF-16 units each become at least one UTF-8 byte, plus its two quotes;
 * bytes become X'hex', exactly 2 per byte and 3 more. A row this says is too large is refused
 * without formatting it (formatting 18 M characters of quotes and backslashes took 5 s, the
 * event loop blocked, and was done again at every step of the bisection that isolates it).
 */
function leastBytes(values: readonly unknown[]): number {
  let n = 0
  for (let i = 0; i < values.length; i++) {
    const v = values[i]
    if (typeof v === 'string') n += v.length + 2
    else if (Array.isArray(v)) n += leastBytes(v)
    else if (v instanceof Uint8Array) n += v.byteLength * 2 + 3
  }
  return n
}

// The characters mysql2 escapes in a string, each with a backslash: one byte becomes two.
// biome-ignore lint/suspicious/noControlCharactersInRegex: they are what mysql2 escapes
const ESCAPED = /[\0\b\t\n\r\x1a"'\\]/
const ESCAPED_CODE = new Uint8Array(128)
for (const c of [0, 8, 9, 10, 13, 26, 34, 39, 92]) ESCAPED_CODE[c] = 1

// Strings from this many UTF-16 units on are measured once per attempt (see `StringSizes`).
const LONG = 64 * 1024

/**
 * Escaped sizes of long strings measured during one attempt at a batch: the bisection that
 * isolates a row too large meets it again at each step, and measuring 10 M characters takes
 * some 50 ms (the Map hashes a string that long by its length only, and finds the same one by
 * identity). Lives as long as the attempt, so it keeps no row past its batch.
 */
export type StringSizes = Map<string, number>

/** The UTF-8 bytes of `s` escaped as mysql2 escapes it, quotes left out. */
function escapedBytes(s: string, sizes: StringSizes | undefined): number {
  const long = sizes !== undefined && s.length >= LONG
  const known = long ? sizes.get(s) : undefined
  if (known !== undefined) return known
  let n = Buffer.byteLength(s, 'utf8')
  if (ESCAPED.test(s)) {
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i)
      if (c < 128) n += ESCAPED_CODE[c]!
    }
  }
  if (long) sizes.set(s, n)
  return n
}

/** `values` with every string replaced by '' (kept in `strings`), arrays copied. */
function withoutStrings(values: readonly unknown[], strings: string[]): unknown[] {
  return values.map((v) => {
    if (typeof v === 'string') {
      strings.push(v)
      return ''
    }
    return Array.isArray(v) ? withoutStrings(v, strings) : v
  })
}

/**
 * The exact bytes of the statement mysql2 sends. mysql2 formats the statement with its
 * strings emptied (numbers, dates, bytes, DEFAULT and the separators as it writes them) and
 * each string is counted apart, in one pass: its escaped text is its UTF-8 bytes and one more
 * per escaped character, and '' already counted its quotes. Formatting the strings themselves
 * cost seconds for long ones full of quotes or backslashes.
 */
function statementBytes(
  sqlText: string,
  parameters: readonly unknown[],
  sizes: StringSizes | undefined,
): number {
  const strings: string[] = []
  const rest = withoutStrings(parameters, strings)
  let n = Buffer.byteLength(
    mysql.format(sqlText, rest as Parameters<typeof mysql.format>[1]),
    'utf8',
  )
  for (const s of strings) n += escapedBytes(s, sizes)
  return n
}

// Room kept under max_allowed_packet. The packet also carries a command byte, and the server
// needs a little more than that: with a 16 MiB limit MariaDB 10.11 took a statement 6 bytes
// under it but refused ones 3 to 5 bytes under it (1156 "packets out of order", or a reset
// socket, which reads as a lost connection and fails the whole batch), depending on whether
// a transaction was open. A margin of 1 KiB costs nothing (multi-row statements are cut far
// below the limit anyway) and leaves the server's few bytes of slack out of the question.
const PACKET_MARGIN = 1024

/** A statement too large to send: its bytes, or at least that many (`atLeast`). */
export interface OversizeStatement {
  readonly bytes: number
  readonly atLeast: boolean
}

/**
 * Whether `statement`, as mysql2 sends it (values inlined), is more than a `maxAllowedPacket`
 * server takes, margin included; undefined when it fits. Decided by a cheap upper bound below
 * the limit, by a cheap lower bound (a value's length) far above it, and measured exactly in
 * between, in time proportional to the statement (its long strings once per `sizes`).
 */
export function oversizeStatement(
  statement: { readonly sql: string; readonly parameters: readonly unknown[] },
  maxAllowedPacket: number,
  sizes?: StringSizes,
): OversizeStatement | undefined {
  const room = maxAllowedPacket - PACKET_MARGIN
  if (statement.sql.length * 3 + boundBytes(statement.parameters) <= room) return undefined
  // The text around the values counts too, less its placeholders (each replaced by a value).
  const placeholders = statement.sql.split('?').length - 1
  const least = statement.sql.length - placeholders + leastBytes(statement.parameters)
  if (least > room) return { bytes: least, atLeast: true }
  const bytes = statementBytes(statement.sql, statement.parameters, sizes)
  return bytes > room ? { bytes, atLeast: false } : undefined
}

/**
 * The error for a statement larger than max_allowed_packet, raised before it is sent: the
 * server's own (1153, SQLSTATE 08S01) also closes the connection, or shows as a reset socket.
 * Shaped as mysql2's, classified `data` (the engine cuts statements under the limit, so it is
 * one row too large: isolated, the other rows commit).
 */
export function packetTooLargeError(
  sqlText: string,
  { bytes, atLeast }: OversizeStatement,
  maxAllowedPacket: number,
) {
  const message = `statement of ${atLeast ? 'at least ' : ''}${bytes} bytes is larger than max_allowed_packet (${maxAllowedPacket} bytes) less ${PACKET_MARGIN} bytes of margin; not sent`
  const err = Object.assign(new Error(message), {
    code: 'ER_NET_PACKET_TOO_LARGE',
    errno: 1153,
    sqlState: '08S01',
    sqlMessage: message,
    sql: sqlText,
  })
  redactMysqlError(err, sqlText)
  return err
}
