/**
 * Which SQLite file a run may use. Each run recreates its file at the start, so two runs in
 * one directory with the same SQLITE_PATH would delete each other's database mid-run. A run
 * therefore claims the file with a lock file holding its pid (`<file>.lock`, created
 * exclusively); when a live run holds it, this run uses a file of its own next to it
 * (`<name>.<pid>-<n><ext>`) and says so. A lock whose process is gone (killed) is taken over.
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs'
import { extname } from 'node:path'

export interface SqliteFile {
  /** The database file this run owns. */
  readonly path: string
  /** Set when the requested file was in use: what this run does instead. */
  readonly notice?: string
  /** Ends the claim, and deletes the run's own fallback file (unless `keep`). */
  release(): void
}

/** Another process's pid, alive? (EPERM: alive, owned by another user.) */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Takes `path`'s lock, or returns the pid of the live process holding it. */
function lock(path: string): number | undefined {
  const lockFile = `${path}.lock`
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockFile, 'wx')
      writeSync(fd, String(process.pid))
      closeSync(fd)
      return undefined
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
    let holder = Number.NaN
    try {
      holder = Number(readFileSync(lockFile, 'utf8').trim())
    } catch {
      // Released meanwhile: try again.
      continue
    }
    // Also this process: a second backend on the same file in one process (tests).
    if (Number.isInteger(holder) && holder > 0 && alive(holder)) return holder
    // Left by a run that was killed: its file is nobody's any more.
    rmSync(lockFile, { force: true })
  }
  // Lost a race for a stale lock twice: treat the file as taken.
  return -1
}

function removeDatabase(path: string): void {
  for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true })
}

let fallbacks = 0

/**
 * Claims `requested`, or a file of this run's own next to it; `keep` (KEEP_TABLES): the file
 * is left for inspection, not deleted at the end.
 */
export function claimSqliteFile(requested: string, keep: boolean): SqliteFile {
  let path = requested
  let notice: string | undefined
  const holder = lock(path)
  if (holder !== undefined) {
    const ext = extname(requested)
    const stem = requested.slice(0, requested.length - ext.length)
    do {
      path = `${stem}.${process.pid}-${++fallbacks}${ext}`
    } while (lock(path) !== undefined)
    const by = holder > 0 ? ` (pid ${holder})` : ''
    notice = `${requested} is in use by another run${by}; this run uses ${path}${keep ? '' : ' and deletes it at the end'}`
  }
  // Deleted at the end too, the configured file included: its tables are dropped by then, and
  // the emptied file kept every page it had grown to (342 MB after the default run, QA).
  let released = false
  const release = () => {
    if (released) return
    released = true
    if (!keep) removeDatabase(path)
    rmSync(`${path}.lock`, { force: true })
  }
  // A second signal exits at once (process.exit): the claim must not outlive the run.
  process.once('exit', release)
  return {
    path,
    notice,
    release() {
      process.off('exit', release)
      release()
    },
  }
}
