/**
 * The backend of the single-process presets (memory, fs). Atomicity comes from JavaScript's one
 * thread plus a per-key lock around read-modify-write: correct for one process, which is why
 * these presets must not be shared by several gateway instances (use Redis or MongoDB for that).
 *
 * Without `files` (memory) claims, index sets and logs live in maps. With `files` (fs) claims are
 * records and index sets and logs are directories (see dir-sets.ts), so all of it survives a
 * restart and reading one set costs one directory listing.
 */
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { Storage } from 'unstorage'
import { type StoreBackend, ttlSeconds } from '../backend.js'
import { createDirSets } from './dir-sets.js'
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
  const persistent = files !== undefined
  const dirs = files && createDirSets(files.sets, now)
  const locks = new Map<string, Promise<unknown>>()
  const locked = <T>(key: string, task: () => Promise<T>): Promise<T> => {
    const run = (locks.get(key) ?? Promise.resolve()).then(task, task)
    const tail = run.catch(() => {})
    locks.set(key, tail)
    void tail.then(() => locks.get(key) === tail && locks.delete(key))
    return run
  }

  const claims = new Map<string, number>()
  const sets = new Map<string, Map<string, number>>()
  const logs = new Map<string, string[]>()
  const stopSweeper = startSweeper(storage, now, sweepInterval, dirs?.sweep)
  let appends = 0

  return {
    storage,

    claim: (key, expiresAt, t) =>
      locked(key, async () => {
        const held = persistent ? (await storage.getItem<Claim>(key))?.until : claims.get(key)
        if (held !== undefined && held > t) return false
        if (persistent) await storage.setItem(key, { until: expiresAt } satisfies Claim)
        else claims.set(key, expiresAt)
        return true
      }),

    release: (key) =>
      locked(key, async () => {
        if (persistent) await storage.removeItem(key)
        else claims.delete(key)
      }),

    async addMember(set, member, expiresAt) {
      if (dirs) return dirs.addMember(set, member, expiresAt)
      const members = sets.get(set) ?? new Map<string, number>()
      sets.set(set, members.set(member, Math.max(expiresAt, members.get(member) ?? 0)))
    },

    async members(set) {
      if (dirs) return dirs.members(set)
      const t = now()
      return [...(sets.get(set) ?? [])].filter(([, until]) => until > t).map(([member]) => member)
    },

    async removeMembers(set, members) {
      if (dirs) return dirs.removeMembers(set, members)
      const existing = sets.get(set)
      for (const member of members) existing?.delete(member)
      if (existing?.size === 0) sets.delete(set)
    },

    async setMany(entries, t) {
      for (const { key, value, expiresAt } of entries) {
        await storage.setItem(key, value, { ttl: ttlSeconds(expiresAt, t) })
      }
    },

    async append(names, id, entry, maxEntries) {
      // Trim now and then rather than on every write: the cap is a bound, not an exact count.
      const trim = ++appends % 100 === 0
      for (const log of names) {
        if (dirs) {
          await dirs.append(log, id, entry, maxEntries, trim)
          continue
        }
        const entries = logs.get(log) ?? []
        entries.push(entry)
        // Trim in steps of a tenth: shifting the whole array on every append costs O(n) each time.
        if (entries.length > maxEntries * 1.1) entries.splice(0, entries.length - maxEntries)
        logs.set(log, entries)
      }
    },

    async read(log, limit, before) {
      if (dirs) return dirs.read(log, limit, before)
      const entries = logs.get(log) ?? []
      const end = before === undefined ? entries.length : entries.findIndex((e) => idOf(e) >= before)
      const stop = end === -1 ? entries.length : end
      return entries.slice(Math.max(0, stop - limit), stop).reverse()
    },

    async removePrefix(prefix) {
      if (files && dirs) {
        // The fs driver keeps key a:b:c at records/a/b/c: an app's records are one folder.
        await rm(join(files.records, ...prefix.split(':')), { recursive: true, force: true })
        return dirs.removePrefix(prefix)
      }
      for (const set of [...sets.keys()]) if (set.startsWith(`${prefix}:`)) sets.delete(set)
      await Promise.all((await storage.getKeys(prefix)).map((k) => storage.removeItem(k)))
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

const idOf = (line: string) => (JSON.parse(line) as { id: string }).id
