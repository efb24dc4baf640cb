/**
 * The backend of the single-process presets (memory, fs). Atomicity comes from JavaScript's one
 * thread plus a per-key lock around read-modify-write: correct for one process, which is why
 * these presets must not be shared by several gateway instances (use Redis or MongoDB for that).
 *
 * Without `files` (memory) claims, index sets and logs live in maps (map-sets.ts). With `files`
 * (fs) claims are records and index sets and logs are directories (dir-sets.ts), so all of it
 * survives a restart and reading one set costs one directory listing.
 */
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { Storage } from 'unstorage'
import { type StoreBackend, ttlSeconds } from '../backend.js'
import { createDirSets } from './dir-sets.js'
import { createMapSets } from './map-sets.js'
import { startSweeper } from './sweep.js'

type Claim = { until: number }

/** Where the fs preset keeps records (the unstorage fs driver's base) and its sets and logs. */
export interface LocalFiles {
  records: string
  sets: string
}

export function createLocalBackend(
  storage: Storage,
  { files, now, sweepInterval = 600 }: { files?: LocalFiles; now: () => number; sweepInterval?: number },
): StoreBackend {
  const index = files ? createDirSets(files.sets, now) : createMapSets(now)
  const locks = new Map<string, Promise<unknown>>()
  const locked = <T>(key: string, task: () => Promise<T>): Promise<T> => {
    const run = (locks.get(key) ?? Promise.resolve()).then(task, task)
    const tail = run.catch(() => {})
    locks.set(key, tail)
    void tail.then(() => locks.get(key) === tail && locks.delete(key))
    return run
  }

  // Memory keeps claims in a map (swept below); fs keeps them as records, which survive a restart.
  const claims = new Map<string, number>()
  const stopSweeper = startSweeper(storage, now, sweepInterval, async () => {
    const t = now()
    for (const [key, until] of claims) if (until <= t) claims.delete(key)
    await index.sweep()
  })
  let appends = 0

  return {
    storage,

    claim: (key, expiresAt, t) =>
      locked(key, async () => {
        const held = files ? (await storage.getItem<Claim>(key))?.until : claims.get(key)
        if (held !== undefined && held > t) return false
        if (files) await storage.setItem(key, { until: expiresAt } satisfies Claim)
        else claims.set(key, expiresAt)
        return true
      }),

    release: (key) =>
      locked(key, async () => {
        if (files) await storage.removeItem(key)
        else claims.delete(key)
      }),

    addMember: (set, member, expiresAt) => index.addMember(set, member, expiresAt),
    members: (set) => index.members(set),
    removeMembers: (set, members) => index.removeMembers(set, members),

    async setMany(entries, t) {
      for (const { key, value, expiresAt } of entries) {
        await storage.setItem(key, value, { ttl: ttlSeconds(expiresAt, t) })
      }
    },

    async append(names, id, entry, maxEntries) {
      // Trim now and then rather than on every write: the cap is a bound, not an exact count.
      const trim = ++appends % 100 === 0
      for (const log of names) await index.append(log, id, entry, maxEntries, trim)
    },

    read: (log, limit, before) => index.read(log, limit, before),

    async removePrefix(prefix) {
      if (files) {
        // The fs driver keeps key a:b:c at records/a/b/c: an app's records are one folder.
        await rm(join(files.records, ...prefix.split(':')), { recursive: true, force: true })
      } else {
        await Promise.all((await storage.getKeys(prefix)).map((k) => storage.removeItem(k)))
      }
      await index.removePrefix(prefix)
    },

    async ping() {
      await storage.hasItem('ping')
    },

    async dispose() {
      stopSweeper()
      await storage.dispose()
    },
  }
}
