/**
 * `@backchannel/unstorage/fs`: the embedded default. The state lives in this process's memory
 * and every change is appended to a journal file before it is acknowledged (see
 * `_internal/journal.ts`), so it survives a restart; the journal is rewritten from a snapshot as
 * it grows. One gateway process per folder: a lock file refuses a second one.
 *
 * @example
 * ```ts
 * import { fsStore } from '@backchannel/unstorage/fs'
 * const store = await fsStore({ base: './.backchannel' })
 * ```
 * @module
 */
import { randomBytes } from 'node:crypto'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { openJournal } from '../_internal/journal.js'
import { createLocalBackend } from '../_internal/local-backend.js'
import { createLocalState } from '../_internal/local-state.js'
import { type BackchannelStore, createStore, type StoreOptions } from '../store.js'

/** Options of {@link fsStore}. */
export interface FsStoreOptions extends Partial<StoreOptions> {
  /** The data folder. Default `./.backchannel`. */
  base?: string
  /**
   * Wait for the disk (`O_DSYNC`, one write per batch of concurrent changes) before acknowledging a
   * write. Default `true`. With `false` a write is acknowledged once the operating system has it:
   * it survives the process crashing but not the machine losing power.
   */
  fsync?: boolean
  /** Seconds between sweeps that forget expired sessions, markers and claims. Default 600. */
  sweepInterval?: number
}

/**
 * A store in a folder: `journal` (the data), `master.key` and `lock`. Without `masterKey`, one
 * is generated into `<base>/master.key` (mode 0600) on first use and read from there afterwards.
 */
export async function fsStore(options: FsStoreOptions = {}): Promise<BackchannelStore> {
  const base = resolve(options.base ?? '.backchannel')
  const now = options.now ?? (() => Date.now() / 1000)
  await mkdir(base, { recursive: true })
  const unlock = await lockFolder(base)
  try {
    const masterKey = options.masterKey ?? (await loadOrCreateKey(join(base, 'master.key')))
    const state = createLocalState(now)
    const journal = await openJournal(join(base, 'journal'), state, { fsync: options.fsync ?? true })
    const backend = createLocalBackend(state, { now, journal, sweepInterval: options.sweepInterval, onDispose: unlock })
    return createStore(backend, { ...options, now, masterKey })
  } catch (err) {
    await unlock()
    throw err
  }
}

/** Takes `<base>/lock` for this process, unless a live process holds it. Returns the release. */
async function lockFolder(base: string): Promise<() => Promise<void>> {
  const path = join(base, 'lock')
  for (;;) {
    try {
      await writeFile(path, `${process.pid}\n`, { flag: 'wx' })
      return () => rm(path, { force: true })
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
    const holder = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10)
    if (Number.isInteger(holder) && holder > 0 && isAlive(holder)) {
      throw new Error(
        `${base} is in use by process ${holder}${holder === process.pid ? ' (this one)' : ''}: the fs store ` +
          'serves one process at a time; stop it first, or use Redis or MongoDB to share storage',
      )
    }
    // Left behind by a process that is gone. (Two processes starting at the same instant over
    // such a lock could both take it; the lock guards against the usual mistake, a second
    // gateway started on a folder in use, not against that race.)
    await rm(path, { force: true })
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

async function loadOrCreateKey(path: string): Promise<Uint8Array> {
  try {
    const key = Buffer.from((await readFile(path, 'utf8')).trim(), 'base64url')
    if (key.byteLength !== 32) throw new TypeError(`${path} does not hold a 32-byte base64url key`)
    return key
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  const key = randomBytes(32)
  // 'wx': never overwrite a key another process wrote in the meantime.
  await writeFile(path, `${key.toString('base64url')}\n`, { mode: 0o600, flag: 'wx' }).catch(async (err) => {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  })
  return Buffer.from((await readFile(path, 'utf8')).trim(), 'base64url')
}
