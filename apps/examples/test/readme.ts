import { readFileSync } from 'node:fs'

/** A README's example: its code, the packages it imports, the packages its install lines add. */
export interface Example {
  readonly code: string
  readonly imports: readonly string[]
  readonly installs: readonly string[]
}

const fences = /^```(\w*)\n([\s\S]*?)^```$/gm

/** The first `js` block of the README's `## Example` section, and the `pnpm add` lines above it. */
export function readExample(path: string): Example {
  const text = readFileSync(path, 'utf8')
  const at = text.indexOf('\n## Example')
  if (at < 0) throw new Error(`${path}: no "## Example" section`)
  const code = [...text.slice(at).matchAll(fences)].find((m) => m[1] === 'js')?.[2]
  if (code === undefined) throw new Error(`${path}: no js block under "## Example"`)
  const installs = [...text.slice(0, at).matchAll(fences)]
    .filter((m) => m[1] === 'sh')
    .flatMap((m) => m[2]!.split('\n'))
    .filter((l) => l.startsWith('pnpm add '))
    .flatMap((l) => l.replace(/#.*/, '').split(/\s+/).slice(2))
    .filter((w) => w !== '' && !w.startsWith('-'))
  const imports = [...code.matchAll(/^import (?:[^'"]* from )?['"]([^'"]+)['"]/gm)]
    .map((m) => m[1]!)
    .filter((s) => !s.startsWith('node:') && !s.startsWith('.'))
    .map((s) =>
      s
        .split('/')
        .slice(0, s.startsWith('@') ? 2 : 1)
        .join('/'),
    )
  return { code, imports: [...new Set(imports)], installs }
}

/** The outputs an example documents: the comment after each `console.log(…)` line. */
export function expectedOutputs(code: string): string[] {
  return code
    .split('\n')
    .filter((l) => l.startsWith('console.log(') && l.includes(' // '))
    .map((l) => l.slice(l.lastIndexOf(' // ') + 4).trim())
}

const squash = (s: string) => s.replace(/\s+/g, ' ')
const literal = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/**
 * The documented outputs found in `stdout`, in order (each after the previous one's match),
 * whitespace-insensitive, `...` or `…` standing for anything. Equal to `expected` when all are.
 */
export function matchInOrder(stdout: string, expected: readonly string[]): string[] {
  const out = squash(stdout)
  const found: string[] = []
  let from = 0
  for (const e of expected) {
    const pattern = squash(e)
      .split(/\.\.\.|…/)
      .map(literal)
      .join('.*?')
    const m = new RegExp(pattern, 'g')
    m.lastIndex = from
    const hit = m.exec(out)
    if (hit === null) continue
    found.push(e)
    from = hit.index + hit[0].length
  }
  return found
}
