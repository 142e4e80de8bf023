import { runInNewContext } from 'node:vm'
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  AbortedError,
  BatchSQLError,
  ClosedError,
  createBatchSQL,
  createExecutor,
  createProcessorBatchSQL,
  defineSchema,
  JSON_MAX_DEPTH,
  Request,
  ValidationError,
} from '../src/index.js'
import { MockExecutor, MockProcessor } from '../src/testing.js'
import { closeReleasing, oneFlushAtATime, tick } from './helpers.js'

// What submit() promises a caller beyond the type checks of pipeline.test.ts: a refusal is a
// typed error at the call (never a crash, never a row the database would change or refuse
// later), an aborted signal is honoured, and what was submitted is what is written.

const events = defineSchema({ table: 'events', columns: { id: 'int', payload: 'string' } })
const docs = defineSchema({
  table: 'docs',
  columns: { id: 'int', at: 'date', doc: 'json', raw: 'bytes', any: 'any' },
})

afterEach(() => {
  vi.restoreAllMocks()
})

/** Unhandled rejections seen while `body` runs and for a few ticks after it. */
async function unhandledDuring(body: () => Promise<void>): Promise<unknown[]> {
  const seen: unknown[] = []
  const listener = (reason: unknown) => seen.push(reason)
  process.on('unhandledRejection', listener)
  try {
    await body()
    // Node reports an unhandled rejection once the microtask queue has drained.
    await new Promise((r) => setTimeout(r, 20))
  } finally {
    process.off('unhandledRejection', listener)
  }
  return seen
}

describe('submitAndWait: a refusal needs one handler', () => {
  it('handling `accepted` alone leaves no unhandled rejection (bad row, closed, aborted while waiting)', async () => {
    const { processor, b } = oneFlushAtATime(1, 1)
    const seen = await unhandledDuring(async () => {
      // The pattern the README shows: accepted first, then the commit, in one try.
      const refused = async (ack: ReturnType<typeof b.submitAndWait>) => {
        try {
          await ack.accepted
          await ack
          return undefined
        } catch (err) {
          return err
        }
      }
      expect(await refused(b.submitAndWait(events, { id: 'x' } as never))).toBeInstanceOf(
        ValidationError,
      )
      await b.submit(events, { id: 1 }) // flushed, in flight
      await b.submit(events, { id: 2 }) // pending: the buffer is full, the next one waits
      const controller = new AbortController()
      const waiting = refused(b.submitAndWait(events, { id: 3 }, { signal: controller.signal }))
      await tick()
      controller.abort()
      expect(await waiting).toBeInstanceOf(AbortedError)
      await closeReleasing(b, processor)
      expect(await refused(b.submitAndWait(events, { id: 4 }))).toBeInstanceOf(ClosedError)
    })
    expect(seen).toEqual([])
    expect(processor.received.flatMap((x) => x.rows.map((r) => r.get('id')))).toEqual([1, 2])
  })

  it('handling the commit promise alone is enough too', async () => {
    const b = createBatchSQL({ executor: new MockExecutor() })
    const seen = await unhandledDuring(async () => {
      await expect(b.submitAndWait(events, { id: 'x' } as never)).rejects.toBeInstanceOf(
        ValidationError,
      )
      await b.close()
      await expect(b.submitAndWait(events, { id: 1 })).rejects.toBeInstanceOf(ClosedError)
    })
    expect(seen).toEqual([])
  })
})

describe('AbortSignal', () => {
  it('a signal that fired before the call refuses the row even with room in the buffer', async () => {
    const executor = new MockExecutor()
    const b = createBatchSQL({ executor })
    const signal = AbortSignal.abort(new Error('gone'))
    const calls = [
      b.submit(events, { id: 1 }, { signal }),
      b.submit(new Request(events).setInt('id', 2), { signal }),
      b.submitMany(events, [{ id: 3 }], { signal }),
      b.submitAndWait(events, { id: 4 }, { signal }),
      b.submitAndWait(new Request(events).setInt('id', 5), { signal }),
    ]
    for (const call of calls) {
      const err = await call.then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(err).toBeInstanceOf(AbortedError)
      expect((err as AbortedError).cause).toBe(signal.reason)
    }
    await b.submit(events, { id: 6 }, { signal: new AbortController().signal })
    await b.close()
    expect(executor.rows('events')).toEqual([{ id: 6 }])
    expect(b.stats().accepted).toBe(1)
  })

  it('a signal that is not an AbortSignal is a typed error, not ignored', async () => {
    const b = createBatchSQL({ executor: new MockExecutor() })
    const notASignal = { aborted: false } as unknown as AbortSignal
    for (const call of [
      b.submit(events, { id: 1 }, { signal: notASignal }),
      b.submitMany(events, [{ id: 1 }], { signal: notASignal }),
      b.submitAndWait(events, { id: 1 }, { signal: notASignal }),
    ]) {
      await expect(call).rejects.toMatchObject({
        name: 'BatchSQLError',
        code: 'BATCHSQL_INVALID_CONFIG',
      })
    }
    // A signal of another realm or a polyfill is one by its shape.
    const target = new EventTarget()
    const polyfilled = Object.assign(target, { aborted: false, reason: undefined })
    await b.submit(events, { id: 2 }, { signal: polyfilled as unknown as AbortSignal })
    await b.close()
    expect(b.stats().accepted).toBe(1)
  })
})

describe('submit options', () => {
  it('a misspelt or unknown option, options that are no object, or the signal itself as the options: a rejected BATCHSQL_INVALID_CONFIG, nothing accepted', async () => {
    const executor = new MockExecutor()
    const b = createBatchSQL({ executor })
    const signal = AbortSignal.abort()
    // Each was once accepted as "no signal" (the row written, the abort never honoured).
    const bad: unknown[] = [{ sginal: signal }, { timeoutMs: 1 }, 'x', 5, null, [], signal]
    for (const options of bad) {
      const calls: [string, () => Promise<void>][] = [
        ['submit', () => b.submit(events, { id: 1 }, options as never)],
        ['submit(request)', () => b.submit(new Request(events).setInt('id', 1), options as never)],
        ['submitMany', () => b.submitMany(events, [{ id: 1 }], options as never)],
        ['submitAndWait', () => b.submitAndWait(events, { id: 1 }, options as never)],
        ['accepted', () => b.submitAndWait(events, { id: 1 }, options as never).accepted],
      ]
      for (const [what, call] of calls) {
        // Reported as a bad row is: by the promise, not thrown at the call.
        let p: Promise<void> | undefined
        expect(() => {
          p = call()
        }, what).not.toThrow()
        await expect(p, `${what} ${String(options)}`).rejects.toMatchObject({
          name: 'BatchSQLError',
          code: 'BATCHSQL_INVALID_CONFIG',
        })
      }
    }
    await expect(b.submit(events, { id: 1 }, signal as never)).rejects.toThrow(
      /pass it as \{ signal \}/,
    )
    await expect(b.submit(events, { id: 1 }, { sginal: signal } as never)).rejects.toThrow(
      /unknown submit\(\) option\(s\): "sginal"/,
    )
    await b.close()
    expect(b.stats().accepted).toBe(0)
    expect(executor.rows('events')).toEqual([])
  })
})

describe('values the database would change or refuse are refused at submit()', () => {
  const lone = 'x\ud800y'

  it('a string with a lone UTF-16 surrogate (stored as U+FFFD otherwise), in any column or JSON', async () => {
    const executor = new MockExecutor()
    const b = createBatchSQL({ executor })
    const unsupported = { code: 'BATCHSQL_UNSUPPORTED_VALUE' }
    await expect(b.submit(events, { id: 1, payload: lone })).rejects.toMatchObject({
      ...unsupported,
      column: 'payload',
    })
    await expect(b.submit(docs, { id: 1, any: '\udc00' })).rejects.toMatchObject(unsupported)
    await expect(b.submit(docs, { id: 1, doc: { a: [lone] } })).rejects.toMatchObject(unsupported)
    await expect(b.submit(docs, { id: 1, doc: { [lone]: 1 } })).rejects.toMatchObject(unsupported)
    await expect(b.submitMany(events, [{ id: 1 }, { id: 2, payload: lone }])).rejects.toMatchObject(
      { ...unsupported, row: 1 },
    )
    expect(() => new Request(events).setString('payload', lone)).toThrow(ValidationError)
    // Well-formed pairs (an emoji) and every BMP character pass.
    await b.submit(events, { id: 3, payload: 'ok \ud83d\ude00 \uffff' })
    await b.close()
    expect(executor.rows('events')).toEqual([{ id: 3, payload: 'ok \ud83d\ude00 \uffff' }])
  })

  it('a Date outside years 0001-9999 (UTC); the edges pass', async () => {
    const executor = new MockExecutor()
    const b = createBatchSQL({ executor })
    const first = new Date('0001-01-01T00:00:00.000Z')
    const last = new Date('9999-12-31T23:59:59.999Z')
    for (const t of [first.getTime() - 1, last.getTime() + 1, Date.parse('-000050-06-01T00:00Z')]) {
      await expect(b.submit(docs, { id: 1, at: new Date(t) })).rejects.toMatchObject({
        code: 'BATCHSQL_UNSUPPORTED_VALUE',
        column: 'at',
      })
      await expect(b.submit(docs, { id: 1, any: new Date(t) })).rejects.toMatchObject({
        code: 'BATCHSQL_UNSUPPORTED_VALUE',
      })
    }
    await b.submit(docs, { id: 2, at: first })
    await b.submit(docs, { id: 3, at: last })
    await b.close()
    expect(executor.rows('docs').map((r) => (r.at as Date).toISOString())).toEqual([
      '0001-01-01T00:00:00.000Z',
      '9999-12-31T23:59:59.999Z',
    ])
  })

  it('an integer outside int64 (bigint or digit string) in an integer or any column; the edges pass', async () => {
    const ints = defineSchema({ table: 'ints', columns: { id: 'int', big: 'bigint', any: 'any' } })
    const executor = new MockExecutor()
    const b = createBatchSQL({ executor })
    const max = 2n ** 63n - 1n
    const min = -(2n ** 63n)
    for (const v of [max + 1n, min - 1n]) {
      for (const value of [v, `${v}` as const]) {
        await expect(b.submit(ints, { id: 1, big: value })).rejects.toMatchObject({
          code: 'BATCHSQL_TYPE_MISMATCH',
          column: 'big',
        })
        await expect(b.submit(ints, { id: value })).rejects.toMatchObject({
          code: 'BATCHSQL_TYPE_MISMATCH',
          column: 'id',
        })
      }
      await expect(b.submit(ints, { id: 1, any: v })).rejects.toMatchObject({
        code: 'BATCHSQL_TYPE_MISMATCH',
        column: 'any',
      })
    }
    await b.submit(ints, { id: 2, big: max, any: min })
    await b.submit(ints, { id: 3, big: `${min}`, any: max })
    await b.close()
    expect(executor.rows('ints')).toEqual([
      { id: 2, big: max, any: min },
      { id: 3, big: min, any: max },
    ])
  })
  it('a JSON document nested deeper than the stack is a ValidationError, not a RangeError', async () => {
    const b = createBatchSQL({ executor: new MockExecutor() })
    let deep: unknown = 1
    for (let i = 0; i < 200_000; i++) deep = [deep]
    await expect(b.submit(docs, { id: 1, doc: deep as never })).rejects.toMatchObject({
      name: 'ValidationError',
      code: 'BATCHSQL_UNSUPPORTED_VALUE',
      column: 'doc',
    })
    await b.close()
  })

  it('an object nested in a JSON document whose state JSON cannot see is refused, not written as {}', async () => {
    // Refused at the top of a document already; nested, they were written as {} without a word.
    class Hidden {
      #secret = 1
      get secret() {
        return this.#secret
      }
    }
    class Point {
      constructor(
        readonly x: number,
        readonly y: number,
      ) {}
    }
    const executor = new MockExecutor()
    const b = createBatchSQL({ executor })
    const hidden = [
      new URLSearchParams('a=1'),
      new Headers({ a: '1' }),
      new WeakRef({}),
      new AbortController(),
      new Hidden(),
      Object(1n),
    ]
    for (const value of hidden)
      await expect(b.submit(docs, { id: 1, doc: { x: value } as never })).rejects.toMatchObject({
        code: 'BATCHSQL_UNSUPPORTED_VALUE',
        column: 'doc',
      })
    // State only on the prototype: JSON cannot see it either.
    await expect(
      b.submit(docs, {
        id: 1,
        doc: {
          x: Object.create(Object.create(null, { a: { value: 1, enumerable: true } })),
        } as never,
      }),
    ).rejects.toMatchObject({ code: 'BATCHSQL_UNSUPPORTED_VALUE' })
    // Own fields are written as JSON.stringify writes them; empty plain objects stay, another
    // realm's too (vm, a worker's structured data).
    const foreign = runInNewContext('({ e: {}, a: [{}], n: JSON.parse(\'{"x":{}}\') })')
    await b.submit(docs, {
      id: 2,
      doc: { p: new Point(1, 2), e: {}, n: Object.create(null) } as never,
    })
    await b.submit(docs, { id: 3, doc: foreign })
    await b.submit(docs, { id: 4, doc: runInNewContext('({})') })
    await b.close()
    expect(executor.rows('docs')).toEqual([
      { id: 2, doc: { p: { x: 1, y: 2 }, e: {}, n: {} } },
      { id: 3, doc: { e: {}, a: [{}], n: { x: {} } } },
      { id: 4, doc: {} },
    ])
  })

  it('a value written straight into Request.values is checked at submit() like any other', async () => {
    const nums = defineSchema({ table: 'nums', columns: { id: 'int', f: 'float', s: 'string' } })
    const executor = new MockExecutor()
    const b = createBatchSQL({ executor })
    const cases: [number, unknown][] = [
      [1, Number.NaN], // was written as NULL
      [0, 10.5], // an int key: MariaDB rounded it to 11
      [2, 'x\uD800'], // a lone surrogate: the driver sent U+FFFD
    ]
    for (const [column, value] of cases) {
      const r = Request.from(nums, { id: 1, f: 1, s: 'ok' })
      ;(r.values as unknown[])[column] = value
      await expect(b.submit(r)).rejects.toBeInstanceOf(ValidationError)
    }
    await b.submit(Request.from(nums, { id: 2, f: 0.5, s: 'ok' }))
    await b.close()
    expect(executor.rows('nums')).toEqual([{ id: 2, f: 0.5, s: 'ok' }])
  })

  it('JSON nesting has a fixed limit (512 levels), whatever the stack left: a document that passed could overflow JSON.stringify in the batch', async () => {
    const executor = new MockExecutor()
    const b = createBatchSQL({ executor })
    const nested = (levels: number) => {
      let d: unknown = 1
      for (let i = 0; i < levels; i++) d = i % 2 === 0 ? [d] : { k: d }
      return d as never
    }
    await b.submit(docs, { id: 1, doc: nested(JSON_MAX_DEPTH) })
    for (const levels of [JSON_MAX_DEPTH + 1, 5_000]) {
      await expect(b.submit(docs, { id: 2, doc: nested(levels) })).rejects.toMatchObject({
        code: 'BATCHSQL_UNSUPPORTED_VALUE',
        message: expect.stringContaining(`more than ${JSON_MAX_DEPTH} levels`),
      })
    }
    // An invalid Date inside a document: its toJSON() gives null, which is not what was given.
    await expect(
      b.submit(docs, { id: 3, doc: { at: new Date('not a date') } as never }),
    ).rejects.toMatchObject({ code: 'BATCHSQL_UNSUPPORTED_VALUE' })
    await b.close()
    expect(executor.rows('docs').map((r) => r.id)).toEqual([1])
  })
})

describe('rows that throw while read', () => {
  it('a throwing getter, toJSON or proxy trap, or a validate hook throwing a plain Error, is a typed error whose message does not repeat what was thrown', async () => {
    const checked = defineSchema({
      table: 'checked',
      columns: { id: 'int' },
      validate: () => {
        throw new Error('secret-value-1234')
      },
    })
    const b = createBatchSQL({ executor: new MockExecutor() })
    const secret = new Error('secret-value-1234')
    const rows: [typeof events | typeof docs | typeof checked, unknown][] = [
      [
        events,
        {
          id: 1,
          get payload(): string {
            throw secret
          },
        },
      ],
      [
        docs,
        {
          id: 1,
          doc: {
            toJSON() {
              throw secret
            },
          },
        },
      ],
      [
        events,
        new Proxy(
          {},
          {
            ownKeys() {
              throw secret
            },
          },
        ),
      ],
      [checked, { id: 1 }],
    ]
    for (const [schema, row] of rows) {
      for (const call of [
        b.submit(schema as typeof events, row as never),
        b.submitMany(schema as typeof events, [{ id: 0 }, row as never]),
      ]) {
        const err = await call.then(
          () => undefined,
          (e: unknown) => e,
        )
        expect(err).toBeInstanceOf(ValidationError)
        expect((err as ValidationError).code).toBe('BATCHSQL_UNSUPPORTED_VALUE')
        expect((err as Error).message).not.toContain('secret-value')
        expect((err as Error).cause).toBeInstanceOf(Error)
      }
    }
    await b.close()
    expect(b.stats().accepted).toBe(0)
  })
})

describe('rows that are not plain objects', () => {
  class Event {
    readonly id: number
    #payload: string
    constructor(id: number, payload: string) {
      this.id = id
      this.#payload = payload
    }
    get payload(): string {
      return this.#payload
    }
  }

  it("a class instance is read column by column: its getters are seen, its prototype's other members ignored", async () => {
    const executor = new MockExecutor()
    const b = createBatchSQL({ executor })
    await b.submit(events, new Event(1, 'from a getter'))
    await b.submitMany(events, [new Event(2, 'two'), { id: 3, payload: 'plain' }])
    const proto = { id: 4, payload: 'inherited' }
    await b.submit(events, Object.create(proto))
    await b.close()
    expect(executor.rows('events')).toEqual([
      { id: 1, payload: 'from a getter' },
      { id: 2, payload: 'two' },
      { id: 3, payload: 'plain' },
      { id: 4, payload: 'inherited' },
    ])
  })

  it('a column named like an Object.prototype member is read only when the row has it', async () => {
    const odd = defineSchema({
      table: 'odd',
      columns: { id: 'int', toString: 'string', constructor: 'string' },
    })
    class Row {
      constructor(readonly id: number) {}
    }
    const executor = new MockExecutor()
    const b = createBatchSQL({ executor })
    await b.submit(odd, new Row(1) as never)
    await b.submit(odd, Object.assign(new Row(2), { toString: 'own' }) as never)
    await b.submit(odd, { id: 3, constructor: 'plain' } as never)
    await b.close()
    const expected: Record<string, unknown>[] = [
      { id: 1 },
      { id: 2, toString: 'own' },
      { id: 3, constructor: 'plain' },
    ]
    expect(executor.rows('odd')).toEqual(expected)
  })

  it('a column named "__proto__" is read only when the row has it, and toObject() keeps it as an own key', async () => {
    // Named in an array: an object literal's `__proto__:` would set the literal's prototype.
    const odd = defineSchema({ table: 'odd', columns: ['id', '__proto__', 'constructor'] })
    class Row {
      constructor(readonly id: number) {}
    }
    const executor = new MockExecutor()
    const b = createBatchSQL({ executor })
    // Both read column by column (no Object constructor): row.__proto__ is their prototype.
    await b.submit(odd, new Row(1) as never)
    await b.submit(odd, JSON.parse('{"id": 2, "constructor": "c"}'))
    // JSON.parse makes "__proto__" an own key.
    await b.submit(odd, JSON.parse('{"id": 3, "__proto__": "p"}'))
    await b.submit(odd, JSON.parse('{"id": 4, "__proto__": {"k": 1}}'))
    await b.close()
    const rows = executor.rows('odd')
    expect(rows.map((r) => Object.keys(r))).toEqual([
      ['id'],
      ['id', 'constructor'],
      ['id', '__proto__'],
      ['id', '__proto__'],
    ])
    expect(rows.map((r) => Object.getOwnPropertyDescriptor(r, '__proto__')?.value)).toEqual([
      undefined,
      undefined,
      'p',
      { k: 1 },
    ])
    for (const r of rows) expect(Object.getPrototypeOf(r)).toBe(Object.prototype)
    // A typed column (a computed key is an own one): the prototype was refused as mistyped.
    const typed = defineSchema({ table: 'typed', columns: { id: 'int', ['__proto__']: 'int' } })
    const c = createBatchSQL({ executor })
    await c.submit(typed, new Row(5) as never)
    await c.close()
    expect(executor.rows('typed')).toEqual([{ id: 5 }])
  })

  it('an own field that is not a column is still refused; arrays, Maps and typed arrays are not rows', async () => {
    const b = createBatchSQL({ executor: new MockExecutor() })
    const extra = Object.assign(new Event(1, 'x'), { nope: 1 })
    await expect(b.submit(events, extra as never)).rejects.toMatchObject({
      code: 'BATCHSQL_UNKNOWN_COLUMN',
      column: 'nope',
    })
    for (const row of [[1, 'x'], new Map([['id', 1]]), new Uint8Array(2)]) {
      await expect(b.submit(events, row as never)).rejects.toMatchObject({
        code: 'BATCHSQL_INVALID_ROW',
      })
    }
    await b.close()
    expect(b.stats().accepted).toBe(0)
  })
})

describe('a submitted Request is a snapshot', () => {
  it('mutating the Date, bytes or JSON that get() returns after submit changes nothing written', async () => {
    const executor = new MockExecutor()
    const b = createBatchSQL({ executor })
    const r = new Request(docs)
      .setInt('id', 1)
      .setDate('at', new Date('2024-01-01T00:00:00Z'))
      .setJSON('doc', { n: 1 })
      .setBytes('raw', new Uint8Array([1, 2]))
    await b.submit(r)
    ;(r.get('at') as Date).setTime(0)
    ;(r.get('doc') as { n: number }).n = 999
    ;(r.get('raw') as Uint8Array)[0] = 0x7a
    await b.close()
    const [row] = executor.rows('docs')
    expect((row!.at as Date).toISOString()).toBe('2024-01-01T00:00:00.000Z')
    expect(row!.doc).toEqual({ n: 1 })
    expect([...(row!.raw as Uint8Array)]).toEqual([1, 2])
  })

  it('a Date made invalid through get() before submit is refused', async () => {
    const b = createBatchSQL({ executor: new MockExecutor() })
    const r = new Request(docs).setInt('id', 1).setDate('at', new Date())
    ;(r.get('at') as Date).setTime(Number.NaN)
    await expect(b.submit(r)).rejects.toMatchObject({ code: 'BATCHSQL_UNSUPPORTED_VALUE' })
    await b.close()
  })
})

describe('failures nobody reads', () => {
  it('the first dropped failure emits one process warning', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {})
    const executor = new MockExecutor(
      {
        onBatch: () => {
          throw new Error('x')
        },
      },
      { retry: { maxAttempts: 1 } },
    )
    const b = createBatchSQL({ executor, flushSize: 1, errorBufferSize: 1 })
    for (let i = 0; i < 4; i++) await b.submit(events, { id: i })
    await b.close()
    expect(b.stats().droppedErrors).toBe(3)
    const ours = warn.mock.calls.filter(
      ([, o]) => (o as { code?: string } | undefined)?.code === 'BATCHSQL_DROPPED_ERRORS',
    )
    expect(ours).toHaveLength(1)
    expect(String(ours[0]![0])).toContain('onError')
  })
})

describe('schema names', () => {
  it('a schema-qualified table name is limited per part, not as a whole', () => {
    const a = 's'.repeat(40)
    const t = 't'.repeat(40)
    expect(defineSchema({ table: `${a}.${t}`, columns: { id: 'int' } }).table).toBe(`${a}.${t}`)
    expect(() => defineSchema({ table: `${a}.${'t'.repeat(64)}`, columns: { id: 'int' } })).toThrow(
      BatchSQLError,
    )
    expect(() => defineSchema({ table: 'x'.repeat(64), columns: { id: 'int' } })).toThrow(
      /longer than 63 bytes/,
    )
  })
})

describe('options a pipeline cannot honour are refused at construction', () => {
  it('timeouts and intervals past what a Node timer takes, negative timeouts, a non-function onError, an unknown onAbort', () => {
    const executor = new MockExecutor()
    const bad: [string, () => unknown][] = [
      ['flushInterval 2^31', () => createBatchSQL({ executor, flushInterval: 2 ** 31 })],
      ['timeoutMs Infinity', () => createExecutor(new MockProcessor(), { timeoutMs: Infinity })],
      ['timeoutMs 2^31', () => createExecutor(new MockProcessor(), { timeoutMs: 2 ** 31 })],
      ['timeoutMs -1', () => createExecutor(new MockProcessor(), { timeoutMs: -1 })],
      ['onError string', () => createBatchSQL({ executor, onError: 'console' as never })],
      ['onAbort drop', () => createBatchSQL({ executor, onAbort: 'drop' as never })],
      ['signal {}', () => createBatchSQL({ executor, signal: {} as never })],
      ['a misspelt option', () => createBatchSQL({ executor, flushsize: 10 } as never)],
      [
        'a misspelt retry option',
        () => createExecutor(new MockProcessor(), { retry: { maxAttemps: 5 } as never }),
      ],
      ['retry a number', () => createExecutor(new MockProcessor(), { retry: 5 as never })],
      [
        'classifiers not an array',
        () => createExecutor(new MockProcessor(), { classifiers: 'x' as never }),
      ],
      [
        'classifiers not functions',
        () => createExecutor(new MockProcessor(), { classifiers: [5, 'x'] as never }),
      ],
      // These were a TypeError (of `in`, of destructuring null) or accepted in silence.
      ['metrics a number', () => createBatchSQL({ executor, metrics: 5 as never })],
      ['metrics a string', () => createBatchSQL({ executor, metrics: 'prom' as never })],
      ['executor options null', () => createExecutor(new MockProcessor(), null as never)],
      ['executor options 5', () => createExecutor(new MockProcessor(), 5 as never)],
      ['no processor', () => createExecutor(null as never)],
      ['processor config null', () => createProcessorBatchSQL(new MockProcessor(), null as never)],
      [
        'processor config metrics',
        () => createProcessorBatchSQL(new MockProcessor(), { metrics: 5 as never }),
      ],
    ]
    for (const [what, make] of bad) {
      expect(make, what).toThrow(expect.objectContaining({ code: 'BATCHSQL_INVALID_CONFIG' }))
    }
    // A custom executor without a concurrency is told so, not "maxInFlightFlushes must be a
    // positive integer" (an option the caller never set).
    const execute = async () => ({ committed: 0, failures: [], attempts: 1 })
    expect(() => createBatchSQL({ executor: { name: 'x', execute } as never })).toThrow(
      expect.objectContaining({
        code: 'BATCHSQL_INVALID_CONFIG',
        message: expect.stringMatching(/executor's concurrency must be a number/),
      }),
    )
    // The edges pass.
    createBatchSQL({ executor, flushInterval: 2 ** 31 - 1 }).close()
    createExecutor(new MockProcessor(), { timeoutMs: 2 ** 31 - 1 })
    createExecutor(new MockProcessor(), { timeoutMs: 0 })
  })
})

describe('an onError that fails', () => {
  it.each(['throws', 'rejects'] as const)(
    'an onError that %s is a process warning: the process goes on and every other row is written',
    async (how) => {
      const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {})
      const executor = new MockExecutor({
        onBatch: (b) => ({
          failures: b.rows.flatMap((r, index) =>
            r.get('id') === 0 ? [{ index, error: new Error('bad row') }] : [],
          ),
        }),
      })
      const b = createBatchSQL({
        executor,
        onError:
          how === 'throws'
            ? () => {
                throw new Error('handler bug')
              }
            : async () => {
                throw new Error('handler bug')
              },
      })
      for (let id = 0; id < 5; id++) await b.submit(events, { id })
      const result = await b.close()
      await tick()
      expect(result).toMatchObject({ committed: 4, failed: 1 })
      const ours = warn.mock.calls.filter(
        ([, o]) => (o as { code?: string } | undefined)?.code === 'BATCHSQL_ONERROR_FAILED',
      )
      expect(ours).toHaveLength(1)
      expect(String((ours[0]![1] as { detail?: string }).detail)).toContain('handler bug')
    },
  )
})
