import type { Batch } from './contract.js'
import { FNV_PRIME, fnv1a } from './fnv.js'
import { KeyTable } from './key-table.js'
import type { Schema } from './schema.js'
import { DECIMAL_RE, decimalKey, respellKey, rowKey, type Value } from './values.js'

/** A batch that entered the gate and has not been released. */
interface Entry {
  readonly seq: number
  readonly batch: Batch
  /**
   * Hashes of the batch's conflict keys, as claimed in its signature's table; computed the
   * first time another batch of its scope enters while this one is unfinished (with one batch
   * at a time, never).
   */
  hashes?: Uint32Array
  /** Its keys could not be hashed (an adapter's `keyHash` threw): ordered whole, both ways. */
  opaque?: boolean
  readonly done: Promise<void>
  readonly release: () => void
}

/**
 * The unfinished batches of one order scope (a table, unless a schema says otherwise), and
 * per key signature which of them last claimed each key.
 */
interface ScopeState {
  readonly unfinished: Map<number, Entry>
  readonly tables: Map<string, KeyTable>
}

/**
 * Keeps batches of conflict-handling schemas from overtaking each other: a batch waits for
 * every earlier, unfinished batch of its order scope (`Schema.orderScope`, the table by
 * default) that shares a conflict key, so the last write wins across batches too. Batches
 * with disjoint keys run concurrently. Keys are compared within one key signature (the same
 * conflict columns, or the same `keyHash`); a batch of another signature in the scope, or
 * of a schema without conflict columns, may touch any row: it and the batch wait whole.
 *
 * How: each key's hash is claimed in a table by the last batch that has it; a new batch
 * waits for the previous owner of each of its keys. That is enough, because that owner had
 * waited in turn for the owner before it: the batches sharing a key form a chain. A finished
 * batch drops the keys it still owns, so the table holds only keys in flight, and each key
 * costs one probe however many batches are in flight (cheaper than merging sorted hash arrays
 * of every unfinished batch, or a Map of live key strings: docs/performance.md has the
 * measurements). A batch that never overlaps another is never hashed. Two different keys with the same 32-bit hash
 * make a batch wait when it need not (about one in 4 billion key pairs); they can never let
 * one run early.
 */
export class KeyOrderGate {
  private readonly scopes = new Map<string, ScopeState>()
  private seq = 0
  /**
   * The empty table of the last scope whose batches all finished, for the next one to take.
   * Why: a sink that finishes each batch before the next enters (SQLite) empties the gate at
   * every batch, and a fresh 12 KB table per batch was measurable garbage; keeping one spare
   * (not one per scope) bounds what an idle gate holds.
   */
  private spare: KeyTable | undefined

  /**
   * `onWait` runs when a batch has to wait for earlier ones (to hurry those along); `waited`
   * when such a batch may run, with the seconds it waited.
   */
  constructor(
    private readonly onWait: () => void = () => {},
    private readonly waited?: (batch: Batch, seconds: number) => void,
  ) {}

  /** Registers the batch now (so later batches see it) and resolves when it may run. */
  async enter(batch: Batch): Promise<() => void> {
    const { schema } = batch
    const scope = schema.orderScope
    const signature = schema.keySignature
    let state = this.scopes.get(scope)
    if (state === undefined) {
      state = { unfinished: new Map(), tables: new Map() }
      this.scopes.set(scope, state)
    }
    let resolveDone!: () => void
    const done = new Promise<void>((r) => {
      resolveDone = r
    })
    const entry: Entry = { seq: ++this.seq, batch, done, release: resolveDone }
    const deps: Promise<void>[] = []
    if (state.unfinished.size > 0) {
      let table: KeyTable | undefined
      for (const e of state.unfinished.values()) {
        // Without conflict columns, or keys not comparable with this batch's: any row may be
        // shared, so the whole batch waits.
        if (signature === '' || e.opaque || e.batch.schema.keySignature !== signature)
          deps.push(e.done)
        else if (e.hashes === undefined) {
          // It entered alone, unhashed (it had nothing to wait for then).
          table ??= this.tableOf(state, signature)
          if (claim(table, e) === undefined) deps.push(e.done)
        }
      }
      if (signature !== '') {
        table ??= this.tableOf(state, signature)
        const owners = claim(table, entry)
        if (owners === undefined) for (const e of state.unfinished.values()) deps.push(e.done)
        else for (const o of owners) deps.push(state.unfinished.get(o)!.done)
      }
    }
    state.unfinished.set(entry.seq, entry)
    const release = () => {
      const current = this.scopes.get(scope)
      if (current === undefined || !current.unfinished.delete(entry.seq)) return
      if (entry.hashes !== undefined) {
        const table = current.tables.get(signature)!
        for (const h of entry.hashes) table.release(h, entry.seq)
      }
      if (current.unfinished.size === 0) {
        this.scopes.delete(scope)
        for (const table of current.tables.values())
          if (table.size === 0 && table.capacity <= SPARE_MAX_SLOTS) this.spare = table
      }
      entry.release()
    }
    if (deps.length > 0) {
      try {
        this.onWait()
        const t0 = performance.now()
        await Promise.all(deps)
        this.waited?.(batch, (performance.now() - t0) / 1000)
      } catch (err) {
        // The entry is registered: if a callback threw and the caller never got `release`,
        // every later batch sharing a key would wait for this one forever.
        release()
        throw err
      }
    }
    return release
  }

  private tableOf(state: ScopeState, signature: string): KeyTable {
    let table = state.tables.get(signature)
    if (table === undefined) {
      table = this.spare ?? new KeyTable()
      this.spare = undefined
      state.tables.set(signature, table)
    }
    return table
  }
}

// A table that grew past this for one burst is let go rather than kept as the spare.
const SPARE_MAX_SLOTS = 1 << 16

/**
 * Hashes the entry's keys and claims them; returns the earlier owners it must wait for, or
 * undefined (nothing claimed, the entry marked opaque) when its keys cannot be hashed.
 */
function claim(table: KeyTable, e: Entry): Set<number> | undefined {
  let hashes: Uint32Array
  try {
    hashes = keyHashes(e.batch.schema, e.batch)
  } catch {
    e.opaque = true
    return undefined
  }
  e.hashes = hashes
  const owners = new Set<number>()
  for (let i = 0; i < hashes.length; i++) {
    const o = table.claim(hashes[i]!, e.seq)
    if (o !== 0 && o !== e.seq) owners.add(o)
  }
  return owners
}

// The state after "s:" lets a raw string key hash exactly as the `s:`-tagged key rowKey()
// would build for it, without building it.
const S_TAG = fnv1a('s:')
const N_TAG = fnv1a('n:')

const DIGITS = new Uint8Array(16) // a safe integer has at most 16 digits
/** fnv1a(String(v), h) for a safe integer, without building the string. */
function hashSafeInteger(v: number, h: number): number {
  if (v < 0) {
    h = Math.imul(h ^ 45, FNV_PRIME) // '-'
    v = -v
  }
  let n = 0
  do {
    const d = v % 10
    DIGITS[n++] = d
    v = (v - d) / 10
  } while (v > 0)
  while (n > 0) h = Math.imul(h ^ (48 + DIGITS[--n]!), FNV_PRIME)
  return h >>> 0
}

/** A row's conflict-key hash: `(values, base)` to a 32-bit hash, `undefined` for a null key. */
export type RowKeyHash = (
  values: readonly (Value | undefined)[],
  base: number,
) => number | undefined

/**
 * The key hash of `schema`'s rows: its `keyHash` when it gives one, else the hash of the
 * tagged key `rowKey()` builds (without building it on the two hot paths: a string in an
 * `any`/`string` column, "s:" + itself; a safe integer outside a `string` column, "n:" + its
 * digits, which most upsert keys are).
 */
export function rowKeyHasher(schema: Schema): RowKeyHash {
  if (schema.keyHash !== undefined) return schema.keyHash
  const { conflictIndexes, types } = schema
  const only = conflictIndexes.length === 1 ? conflictIndexes[0]! : -1
  const rawStrings = only >= 0 && (types[only] === 'any' || types[only] === 'string')
  // (A decimal column's keys are spelled by decimalKey(), never as bare digits.)
  const rawIntegers = only >= 0 && types[only] !== 'string' && types[only] !== 'decimal'
  return (values, base) => {
    const v = only >= 0 ? values[base + only] : undefined
    if (rawStrings && typeof v === 'string') {
      const text = foldForOrder(v)
      return looksNumeric(text) ? fnv1a(numberForOrder(text)) : fnv1a(text, S_TAG)
    }
    if (rawIntegers && typeof v === 'number' && Number.isSafeInteger(v))
      return hashSafeInteger(v, N_TAG)
    const k = rowKey(values, conflictIndexes, types, base, spellForOrder)
    return k === undefined ? undefined : fnv1a(k)
  }
}

/**
 * A key part (`rowKey()`'s tagged spelling) as the ordering gate compares it: text folded as
 * a collation may (`foldForOrder`), and every spelling of one number as one, whatever its
 * tag: in an `any` column `1`, `1n`, `'1'`, `' 1.0'` and `true` are keys of different types
 * to BatchSQL, and one row to a numeric column (`'1'` and `1` two keys let a later batch
 * commit before an earlier one of the same row). Taking two keys for one costs a wait only.
 */
function spellForOrder(part: string): string {
  const tag = part.charCodeAt(0)
  if (tag === 0x73 /* s */) {
    const text = foldForOrder(part.slice(2))
    return looksNumeric(text) ? numberForOrder(text) : `s:${text}`
  }
  if (tag === 0x6e /* n */) return numberForOrder(part.slice(2))
  if (tag === 0x62 /* b */) return part === 'b:1' ? 'n:1' : 'n:0'
  return foldForOrder(part)
}

/** A whole `rowKey()` as the ordering gate compares it: each part by `spellForOrder()`. */
export function keyForOrder(key: string): string {
  return respellKey(key, spellForOrder)
}

const NUMBER_START = /^[-+.\d]/

function looksNumeric(text: string): boolean {
  return NUMBER_START.test(text) && DECIMAL_RE.test(text)
}

/**
 * One spelling of a decimal number: an integer by its digits (as `hashSafeInteger()` spells a
 * safe integer), any other value in `decimalKey()`'s exact digits-and-exponent form.
 */
function numberForOrder(text: string): string {
  const k = decimalKey(text)
  const e = k.lastIndexOf('e')
  if (e < 0) return k // 'n:0'
  const exp = Number(k.slice(e + 1))
  return exp >= 0 && exp <= 30 ? k.slice(0, e) + '0'.repeat(exp) : k
}

// Combining marks, whitespace, and what collations ignore (zero-width spaces and joiners, soft
// hyphens, bidi marks: Default_Ignorable_Code_Point), and the middle dot NFKD leaves of `ŀ`.
const IGNORED = /[\p{M}\s\p{Default_Ignorable_Code_Point}\u00b7]/gu
// Letters accent-blind collations take for their base letter(s) that NFKD leaves alone
// (MariaDB's *_unicode_520_ci and uca1400_ai_ci, MySQL's utf8mb4_0900_ai_ci: Łódź = Lodz),
// lower case (the fold lower-cases first). `ß` is `s` here, and every run of `s` one `s`
// below: MariaDB's default utf8mb4_general_ci takes `ß` for `s` (weiß = weis), its Unicode
// collations and PostgreSQL's citext for `ss` (weiß = weiss, STRAẞE = straße).
const LETTERS: Readonly<Record<string, string>> = {
  ß: 's',
  æ: 'ae',
  œ: 'oe',
  ł: 'l',
  ø: 'o',
  đ: 'd',
  ð: 'd',
  ħ: 'h',
  ŧ: 't',
  þ: 'th',
  ƀ: 'b',
  ɨ: 'i',
  ƶ: 'z',
  ǥ: 'g',
  ʣ: 'dz',
  ґ: 'г',
}
const LETTER = new RegExp(`[${Object.keys(LETTERS).join('')}]`, 'g')
// A decimal digit of another script (Arabic-Indic ١ is 1 to the Unicode collations).
const OTHER_DIGIT = /[^\d\P{Nd}]/gu
const DIGIT = /\p{Nd}/u
const S_RUN = /s{2,}/g
// Characters past U+FFFF left after NFKD (emoji, most symbols and historic scripts; not the
// mathematical letters, which NFKD makes ASCII): MariaDB's default utf8mb4_general_ci weighs
// them all alike, so 'team-😀' and 'team-😁' are one row there (QA 2026-11-29).
const ASTRAL = /[\u{10000}-\u{10FFFF}]/gu
const SPACES = /\s+/g

/**
 * One spelling for text keys a database may hold as one row: the column's collation decides,
 * and BatchSQL does not know it (MariaDB's default `*_general_ci` ignores case, accents and
 * trailing spaces, its Unicode collations more; SQLite's NOCASE case; PostgreSQL's citext case).
 * For ordering only (the gate, and rows of a batch that tie), which may take two keys for one
 * (a batch then waits, or a row goes in a statement of its own, when it need not) but never
 * one for two text keys (an older write could then commit last): case folded, marks,
 * whitespace and ignorable characters dropped, the letters above and other scripts' digits
 * mapped, runs of `s` made one. Checked against MariaDB's own equivalences of every character
 * up to U+2FFF (`test/fold-collations.test.ts` in @batchsql/mysql); what is left is other
 * scripts' (dingbat digits, some Cyrillic and Arabic letters): give such keys as the column
 * stores them. Keys of plain ASCII without capitals, spaces or `ss` (most ids) are returned as
 * they are, without a copy. Dates and decimals a column rounds are not folded (the kysely
 * README: give such keys as the column stores them).
 */
export function foldForOrder(s: string): string {
  let plain = true
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c > 0x7e) return foldUnicode(s)
    if (c <= 0x20 || (c >= 0x41 && c <= 0x5a) || (c === 0x73 && s.charCodeAt(i - 1) === 0x73))
      plain = false
  }
  return plain ? s : s.toLowerCase().replace(SPACES, '').replace(S_RUN, 's')
}

function foldUnicode(s: string): string {
  return s
    .normalize('NFKD')
    .replace(IGNORED, '')
    .toUpperCase()
    .toLowerCase()
    .replace(LETTER, (ch) => LETTERS[ch]!)
    .replace(OTHER_DIGIT, digitValue)
    .replace(ASTRAL, '\ufffd')
    .replace(S_RUN, 's')
}

/** An Nd digit's value: Unicode encodes decimal digits in runs of ten, 0 to 9. */
function digitValue(ch: string): string {
  const cp = ch.codePointAt(0)!
  let start = cp
  while (DIGIT.test(String.fromCodePoint(start - 1))) start--
  return String((cp - start) % 10)
}

/** The hashes of the batch's non-null conflict keys (null keys never conflict). */
function keyHashes(schema: Schema, batch: Batch): Uint32Array {
  const hash = rowKeyHasher(schema)
  // A flat batch is read in place (row r's values start at r * width), not through rows.
  const flat = batch.values
  const rows = flat === undefined ? batch.rows : undefined
  const width = schema.types.length
  const size = flat === undefined ? rows!.length : flat.length / width
  const out = new Uint32Array(size)
  let n = 0
  for (let r = 0; r < size; r++) {
    const h = flat === undefined ? hash(rows![r]!.values, 0) : hash(flat, r * width)
    if (h !== undefined) out[n++] = h
  }
  return out.subarray(0, n)
}
