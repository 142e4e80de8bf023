import { elementScope } from './coalesce-commands.js'
import type { RedisCommand } from './commands.js'

/** What became of a sent command: it ran, the server refused it (an error reply), or it may have run. */
export type SendOutcome = 'ran' | 'refused' | 'unknown'

/** What ran (or may have) on one key after the command being looked at. */
interface Later {
  /** Something that may touch the key as a whole (SET, DEL, LPUSH, a multi-field HSET...). */
  whole: boolean
  /** Else the single-element commands' family and elements (HSET of one field each...). */
  family?: string
  elements?: Set<string>
}

/**
 * The failed commands (positions into `sent`) that a later command on the same key got past:
 * one that ran or may have run. Re-sending them would apply them after it. Later commands
 * refused by the server (an error reply: they did not run, and are re-sent in order with
 * them if at all) do not count. Neither do later single-element commands of the same family
 * on other elements (HSET of another field, SADD or ZADD of another member): those commute
 * with the failed one, so re-sending it after them leaves what submit order would. (Without
 * that exception a cluster failover reported HSETs of one hash as final, `overtaken`, when
 * one field's command ran out of redirections and another's got through.) Undefined when
 * none.
 */
export function overtaken(
  sent: readonly RedisCommand[],
  outcome: (k: number) => SendOutcome,
): Set<number> | undefined {
  const later = new Map<string, Later>()
  let passed: Set<number> | undefined
  for (let k = sent.length - 1; k >= 0; k--) {
    const cmd = sent[k]!
    const o = outcome(k)
    const seen = later.get(cmd.key)
    if (o !== 'ran' && seen !== undefined && !commutesWith(elementScope(cmd), seen)) {
      passed ??= new Set()
      passed.add(k)
    }
    // Ran, or may have: whether a command of unknown outcome is sent again is the executor's
    // call (by its classification), so it counts as one that ran.
    if (o !== 'refused') record(later, cmd)
  }
  return passed
}

function commutesWith(scope: ReturnType<typeof elementScope>, seen: Later): boolean {
  return (
    scope !== undefined &&
    !seen.whole &&
    seen.family === scope.family &&
    seen.elements?.has(scope.element) !== true
  )
}

function record(later: Map<string, Later>, cmd: RedisCommand): void {
  let seen = later.get(cmd.key)
  if (seen === undefined) {
    seen = { whole: false }
    later.set(cmd.key, seen)
  }
  const scope = elementScope(cmd)
  if (scope === undefined || (seen.family !== undefined && seen.family !== scope.family)) {
    seen.whole = true
    return
  }
  seen.family = scope.family
  seen.elements ??= new Set()
  seen.elements.add(scope.element)
}
