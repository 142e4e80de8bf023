// Partial flushes: submitMany of random sizes (50-499 rows), then a pause so the interval
// flushes it alone: every batch a size of its own. Prints the CPU time for the built
// packages of the checkout given as argv[2] (default: this one), to compare two checkouts:
//   node packages/sqlite/bench/partial-flushes.mjs /path/to/other/checkout
import { fileURLToPath } from 'node:url'

const root = process.argv[2] ?? fileURLToPath(new URL('../../..', import.meta.url))
const { defineSchema } = await import(`${root}/packages/core/dist/index.js`)
const { createSqliteBatchSQL } = await import(`${root}/packages/sqlite/dist/index.js`)
const { createRequire } = await import('node:module')
const D = createRequire(`${root}/packages/sqlite/package.json`)('better-sqlite3')
const db = new D(':memory:')
db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b REAL, c INTEGER)')
const s = defineSchema({ table: 't', columns: { id: 'int', a: 'string', b: 'float', c: 'int' } })
const batch = createSqliteBatchSQL(db, { flushSize: 500, flushInterval: 1 })
let id = 0,
  seed = 42
const rnd = () => {
  seed = (seed * 1103515245 + 12345) % 2147483648
  return seed / 2147483648
}
const t0 = process.cpuUsage()
const w0 = performance.now()
for (let k = 0; k < 1500; k++) {
  const n = 50 + Math.floor(rnd() * 450)
  const rows = Array.from({ length: n }, () => ({ id: id++, a: 'abcdef', b: 1.5, c: 7 }))
  await batch.submitMany(s, rows)
  await new Promise((r) => setTimeout(r, 2))
}
await batch.close()
const cpu = process.cpuUsage(t0)
const rows = db.prepare('select count(*) n from t').get().n
console.log(
  JSON.stringify({
    rows,
    cpuMs: Math.round((cpu.user + cpu.system) / 1000),
    wallMs: Math.round(performance.now() - w0),
  }),
)
