import { defineSchema } from '@batchsql/core'
import Database from 'better-sqlite3'
import { createSqliteBatchSQL } from '/work/main/packages/sqlite/dist/index.js'
const wide = process.argv[2] === 'wide'
const cols = wide ? ['id', ...Array.from({ length: 19 }, (_, i) => `c${i}`)] : ['id','name','value']
const ROWS = wide ? 100000 : 200000, BATCH = 500
const rowOf = (cols, i) => Object.fromEntries(cols.map((c) => [c, c === 'id' ? i : c === 'value' ? i * 1.5 : `${c}-${i}`]))
const data = Array.from({ length: ROWS }, (_, i) => rowOf(cols, i))
const ddl = `CREATE TABLE t (${cols.map((c) => (c === 'id' ? 'id INTEGER PRIMARY KEY' : `"${c}"`)).join(', ')})`
function bare() {
  const db = new Database(':memory:'); db.exec(ddl)
  const t0 = performance.now()
  const st = db.prepare(`INSERT INTO t (${cols.map((c) => `"${c}"`).join(',')}) VALUES ` + Array(BATCH).fill(`(${cols.map(() => '?').join(',')})`).join(', '))
  const tx = db.transaction((c) => { const p = []; for (const r of c) for (const k of cols) p.push(r[k]); st.run(p) })
  for (let i = 0; i < ROWS; i += BATCH) tx(data.slice(i, i + BATCH))
  const r = ROWS / ((performance.now() - t0) / 1000); db.close(); return r
}
async function bsql(many) {
  const db = new Database(':memory:'); db.exec(ddl)
  const schema = defineSchema({ table: 't', columns: cols })
  const t0 = performance.now()
  const batch = createSqliteBatchSQL(db, { flushSize: BATCH, bufferSize: 10_000 })
  if (many) { for (let i = 0; i < ROWS; i += BATCH) await batch.submitMany(schema, data.slice(i, i + BATCH)) }
  else for (const r of data) await batch.submit(schema, r)
  await batch.close()
  const r = ROWS / ((performance.now() - t0) / 1000)
  if (db.prepare('SELECT count(*) n FROM t').get().n !== ROWS) throw new Error('lost')
  db.close(); return r
}
const med = (a) => a.slice().sort((x, y) => x - y)[a.length >> 1]
const rm = [], ro = []
for (let k = 0; k < Number(process.argv[3] ?? 9); k++) {
  const a = bare(); const m = await bsql(true); const b = bare(); const o = await bsql(false)
  rm.push(m / a); ro.push(o / b)
}
console.log(`${wide ? 'wide' : 'narrow'} submitMany/bare median ${med(rm).toFixed(2)} [${rm.map((x) => x.toFixed(2)).join(' ')}]`)
console.log(`${wide ? 'wide' : 'narrow'} submit/bare     median ${med(ro).toFixed(2)} [${ro.map((x) => x.toFixed(2)).join(' ')}]`)
