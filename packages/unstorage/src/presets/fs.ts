/**
 * `@backchannel/unstorage/fs`: the embedded default. Files under one folder, which survive a
 * restart; one gateway process per folder (claims are atomic within a process only).
 *
 * @example
 * ```ts
 * import { fsStore } from '@backchannel/unstorage/fs'
 * const store = await fsStore({ base: './.backchannel' })
 * ```
 * @module
 */
import { randomBytes } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { createStorage } from 'unstorage'
import fsDriver from 'unstorage/drivers/fs'
import { createLocalBackend } from '../_internal/local-backend.js'
import { type BackchannelStore, createStore, type StoreOptions } from '../store.js'

/** Options of {@link fsStore}. */
export interface FsStoreOptions extends Partial<StoreOptions> {
  /** The data folder. Default `./.backchannel`. */
  base?: string
  /** Seconds between sweeps of expired records and index entries. Default 600. */
  sweepInterval?: number
}

/**
 * A store in a folder. Without `masterKey`, one is generated into `<base>/master.key` (mode 0600)
 * on first use and read from there afterwards.
 */
export async function fsStore(options: FsStoreOptions = {}): Promise<BackchannelStore> {
  const base = resolve(options.base ?? '.backchannel')
  const now = options.now ?? (() => Date.now() / 1000)
  const masterKey = options.masterKey ?? (await loadOrCreateKey(join(base, 'master.key')))
  const files = { records: join(base, 'data'), sets: join(base, 'index') }
  const storage = createStorage({ driver: fsDriver({ base: files.records }) })
  return createStore(createLocalBackend(storage, { files, now, sweepInterval: options.sweepInterval }), {
    ...options,
    now,
    masterKey,
  })
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
  await mkdir(join(path, '..'), { recursive: true })
  // 'wx': never overwrite a key another process wrote in the meantime.
  await writeFile(path, `${key.toString('base64url')}\n`, { mode: 0o600, flag: 'wx' }).catch(async (err) => {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  })
  return Buffer.from((await readFile(path, 'utf8')).trim(), 'base64url')
}
