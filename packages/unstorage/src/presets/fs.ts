/**
 * `@backchannel/unstorage/fs`: the embedded default, an LMDB database in a folder (see
 * `_internal/lmdb-backend.ts`). The data stays on disk and in the operating system's page cache,
 * not on the JavaScript heap; every write is committed atomically and, by default, on the disk
 * before it is acknowledged; opening reads nothing back. Several processes of one host (of one PID
 * namespace: LMDB tells them apart by pid) may share the folder: claims are atomic across them.
 *
 * @example
 * ```ts
 * import { fsStore } from '@backchannel/unstorage/fs'
 * const store = await fsStore({ base: './.backchannel' })
 * ```
 * @module
 */
import { randomBytes } from 'node:crypto'
import { chmod, constants, copyFile, link, mkdir, open, readFile, unlink } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { convertJournal } from '../_internal/journal.js'
import { createLmdbBackend, dumpLmdb, loadLmdb, openLmdb } from '../_internal/lmdb-backend.js'
import { type BackchannelStore, createStore, type StoreOptions } from '../store.js'

/** Options of {@link fsStore}. */
export interface FsStoreOptions extends Partial<StoreOptions> {
  /** The data folder. Default `./.backchannel`. */
  base?: string
  /**
   * Wait for the disk (fsync) before acknowledging a write. Default `true`. With `false` a write
   * is acknowledged once it is committed: it survives the process crashing but not the machine
   * losing power.
   */
  fsync?: boolean
  /** Seconds between sweeps that delete expired sessions, markers and claims. Default 600. */
  sweepInterval?: number
}

/**
 * A store in a folder: `data.mdb` and `lock.mdb` (the database) and `master.key`. Without
 * `masterKey`, one is generated into `<base>/master.key` (mode 0600) on first use and read from
 * there afterwards. A `journal` left by an earlier version is converted at the first start and
 * kept as `journal.converted`.
 */
export async function fsStore(options: FsStoreOptions = {}): Promise<BackchannelStore> {
  const base = resolve(options.base ?? '.backchannel')
  const now = options.now ?? (() => Date.now() / 1000)
  await mkdir(base, { recursive: true, mode: 0o700 })
  const masterKey = options.masterKey ?? (await loadOrCreateKey(join(base, 'master.key')))
  const db = openLmdb(base)
  try {
    // 0600, as the key: the data tells who has sessions where.
    for (const file of ['data.mdb', 'lock.mdb']) await chmod(join(base, file), 0o600)
    await convertJournal(base, db, now)
  } catch (err) {
    await db.env.close()
    throw err
  }
  const backend = createLmdbBackend(db, {
    now,
    fsync: options.fsync ?? true,
    sweepInterval: options.sweepInterval ?? 600,
  })
  backend.dump = (t) => dumpLmdb(db, t)
  backend.load = (entries) => loadLmdb(db, entries, now())
  return createStore(backend, { ...options, now, masterKey })
}

/**
 * Reads the folder's master key, or makes one. Processes starting at once on a new folder (the
 * workers of `--workers`, two gateways on one host) must all end up with the same key and never
 * read a half-written file: the key is written and synced under a name of its own, then linked as
 * `master.key`, which fails if another process linked its key first (that one is then used).
 */
async function loadOrCreateKey(path: string): Promise<Uint8Array> {
  const existing = await readKey(path)
  if (existing) return existing
  const draft = `${path}.${process.pid}.${randomBytes(6).toString('hex')}`
  const file = await open(draft, 'wx', 0o600)
  try {
    await file.writeFile(`${randomBytes(32).toString('base64url')}\n`)
    await file.sync()
  } finally {
    await file.close()
  }
  try {
    await link(draft, path).catch(async (err: NodeJS.ErrnoException) => {
      // A file system without hard links (some network and FUSE volumes): create it in place.
      if (!['EPERM', 'ENOTSUP', 'ENOSYS', 'EXDEV'].includes(err.code ?? '')) throw err
      await copyFile(draft, path, constants.COPYFILE_EXCL)
    })
    const folder = await open(dirname(path), 'r')
    await folder.sync().finally(() => folder.close())
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  } finally {
    await unlink(draft)
  }
  return (await readKey(path)) as Uint8Array
}

/** The key in `path`, or `undefined` when there is no such file. */
async function readKey(path: string): Promise<Uint8Array | undefined> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  const key = Buffer.from(text.trim(), 'base64url')
  if (key.byteLength !== 32) throw new TypeError(`${path} does not hold a 32-byte base64url key`)
  return key
}
