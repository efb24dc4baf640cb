/**
 * The backend of the single-process presets (memory, fs). Atomicity comes from JavaScript's one
 * thread plus a per-key lock around read-modify-write: correct for one process, which is why
 * these presets must not be shared by several gateway instances (use Redis or MongoDB for that).
 *
 * `persistent: false` (memory) keeps claims, index sets and logs in maps; `persistent: true` (fs)
 * keeps them in the storage, where the fs driver turns each set and log into a directory, so
 * reading one costs one directory listing.
 */
import type { Storage } from 'unstorage'
import { type StoreBackend, ttlSeconds } from '../backend.js'
import { h } from './keys.js'
import { startSweeper } from './sweep.js'

type Claim = { until: number }
type Member = { member: string; until: number }

export function createLocalBackend(
  storage: Storage,
  { persistent, now, sweepInterval = 600 }: { persistent: boolean; now: () => number; sweepInterval?: number },
): StoreBackend {
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
  const stopSweeper = startSweeper(storage, now, sweepInterval)
  let appends = 0

  const memberKey = (set: string, member: string) => `${set}:${h(member)}`

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
      if (!persistent) {
        const members = sets.get(set) ?? new Map<string, number>()
        sets.set(set, members.set(member, Math.max(expiresAt, members.get(member) ?? 0)))
        return
      }
      await storage.setItem(memberKey(set, member), { member, until: expiresAt } satisfies Member, {
        ttl: ttlSeconds(expiresAt, now()),
      })
    },

    async members(set) {
      if (!persistent) {
        const t = now()
        return [...(sets.get(set) ?? [])].filter(([, until]) => until > t).map(([member]) => member)
      }
      const memberKeys = await storage.getKeys(set)
      const items = await storage.getItems(memberKeys)
      return items.flatMap(({ value }) => (value ? [(value as Member).member] : []))
    },

    async removeMembers(set, members) {
      if (!persistent) {
        const existing = sets.get(set)
        for (const member of members) existing?.delete(member)
        if (existing?.size === 0) sets.delete(set)
        return
      }
      await Promise.all(members.map((member) => storage.removeItem(memberKey(set, member))))
    },

    async setMany(entries, t) {
      for (const { key, value, expiresAt } of entries) {
        await storage.setItem(key, value, { ttl: ttlSeconds(expiresAt, t) })
      }
    },

    async append(log, id, entry, maxEntries) {
      if (!persistent) {
        const entries = logs.get(log) ?? []
        entries.push(entry)
        if (entries.length > maxEntries) entries.splice(0, entries.length - maxEntries)
        logs.set(log, entries)
        return
      }
      await storage.setItem(`${log}:${id}`, entry)
      // Trim now and then rather than on every write: the cap is a bound, not an exact count.
      if (++appends % 100 === 0) {
        const ids = (await storage.getKeys(log)).sort()
        await Promise.all(ids.slice(0, Math.max(0, ids.length - maxEntries)).map((k) => storage.removeItem(k)))
      }
    },

    async read(log, limit, before) {
      if (!persistent) {
        const entries = logs.get(log) ?? []
        const end = before === undefined ? entries.length : entries.findIndex((e) => idOf(e) >= before)
        const stop = end === -1 ? entries.length : end
        return entries.slice(Math.max(0, stop - limit), stop).reverse()
      }
      const ids = (await storage.getKeys(log))
        .map((k) => k.slice(log.length + 1))
        .filter((id) => before === undefined || id < before)
        .sort()
        .reverse()
        .slice(0, limit)
      const items = await storage.getItems(ids.map((id) => `${log}:${id}`))
      return items.flatMap(({ value }) =>
        value === null ? [] : [typeof value === 'string' ? value : JSON.stringify(value)],
      )
    },

    async removePrefix(prefix) {
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
