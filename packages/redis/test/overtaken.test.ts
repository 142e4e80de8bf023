import { Request } from '@batchsql/core'
import { describe, expect, it } from 'vitest'
import { redisSchemas } from '../src/index.js'
import { overtaken, type SendOutcome } from '../src/overtaken.js'
import { MAPPER, type RowToCommand } from '../src/to-command.js'

const generic = redisSchemas.command({ columns: ['cmd', 'key', 'a', 'b', 'c', 'd'] })
const toCommand = generic.adapterOptions[MAPPER] as RowToCommand
/** The positions `overtaken()` finds for these commands and outcomes. */
const passed = (rows: [Record<string, unknown>, SendOutcome][]) => {
  const sent = rows.map(([r]) => toCommand(Request.from(generic, r as never).values))
  return [...(overtaken(sent, (k) => rows[k]![1]) ?? [])].sort((a, b) => a - b)
}

describe('overtaken (pure logic): which failed commands must not be re-sent', () => {
  it('a failed command that a later one on its key ran or may have run past', () => {
    expect(
      passed([
        [{ cmd: 'INCR', key: 'k' }, 'refused'],
        [{ cmd: 'EXPIRE', key: 'k', a: 100 }, 'ran'],
        [{ cmd: 'INCR', key: 'other' }, 'refused'],
      ]),
    ).toEqual([0])
    expect(
      passed([
        [{ cmd: 'SET', key: 'k', a: '1' }, 'unknown'],
        [{ cmd: 'DEL', key: 'k' }, 'unknown'],
      ]),
    ).toEqual([0])
  })

  it('not when the later commands on its key were refused too (re-sent in order with it)', () => {
    expect(
      passed([
        [{ cmd: 'INCR', key: 'k' }, 'refused'],
        [{ cmd: 'EXPIRE', key: 'k', a: 100 }, 'refused'],
      ]),
    ).toEqual([])
  })

  it('not past single-element commands of its family on other elements: those commute', () => {
    expect(
      passed([
        [{ cmd: 'HSET', key: 'h', a: 'f1', b: '1' }, 'unknown'],
        [{ cmd: 'HSET', key: 'h', a: 'f2', b: '2' }, 'ran'],
        [{ cmd: 'SADD', key: 's', a: 'm1' }, 'refused'],
        [{ cmd: 'SADD', key: 's', a: 'm2' }, 'unknown'],
      ]),
    ).toEqual([])
  })

  it('past the same element, a whole-key command, another family, or a multi-field HSET', () => {
    expect(
      passed([
        // The same field: re-sent, the older value would win.
        [{ cmd: 'HSET', key: 'a', a: 'f', b: '1' }, 'refused'],
        [{ cmd: 'HSET', key: 'a', a: 'g', b: '2' }, 'ran'],
        [{ cmd: 'HSET', key: 'a', a: 'f', b: '3' }, 'ran'],
        // DEL of the hash, after which the field would come back.
        [{ cmd: 'HSET', key: 'b', a: 'f', b: '1' }, 'refused'],
        [{ cmd: 'DEL', key: 'b' }, 'ran'],
        // An element command of another family on the key.
        [{ cmd: 'HSET', key: 'c', a: 'f', b: '1' }, 'refused'],
        [{ cmd: 'SADD', key: 'c', a: 'f' }, 'ran'],
        // A later HSET of several fields (not folded, so treated as the whole key).
        [{ cmd: 'HSET', key: 'd', a: 'f', b: '1' }, 'unknown'],
        [{ cmd: 'HSET', key: 'd', a: 'g', b: '2', c: 'h', d: '3' }, 'ran'],
      ]),
    ).toEqual([0, 3, 5, 7])
  })
})
