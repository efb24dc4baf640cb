/** Index sets and capped logs in maps, for the local state (local-state.ts). */
import { pack, packedUntil, packedValue } from './packed.js'

/**
 * A set's members by expiry (seconds since epoch). Most sets have one member (a sid's sessions,
 * most users'): such a set is one string, the member packed with its expiry (packed.ts), and
 * becomes a `Map` when a second member arrives. A `Map` took about 150 bytes and a few objects
 * more for it, and every object is work for each major garbage collection, which marks the whole
 * state.
 */
type Members = string | Map<string, number>

/** The `[member, until]` pairs of a set. */
const pairs = (members: Members): Iterable<[string, number]> =>
  typeof members === 'string' ? [[packedValue(members), packedUntil(members)]] : members

export function createMapSets() {
  const sets = new Map<string, Members>()
  const logs = new Map<string, string[]>()
  const idOf = (line: string) => (JSON.parse(line) as { id: string }).id

  return {
    addMember(set: string, member: string, expiresAt: number) {
      const members = sets.get(set)
      if (members === undefined) {
        sets.set(set, pack(expiresAt, member))
      } else if (typeof members !== 'string') {
        members.set(member, Math.max(expiresAt, members.get(member) ?? 0))
      } else if (packedValue(members) === member) {
        sets.set(set, pack(Math.max(expiresAt, packedUntil(members)), member))
      } else {
        // A second member: a Map from here on.
        sets.set(set, new Map([[packedValue(members), packedUntil(members)]]).set(member, expiresAt))
      }
    },
    members(set: string, t: number) {
      const members = sets.get(set)
      const live: string[] = []
      if (members) for (const [member, until] of pairs(members)) if (until > t) live.push(member)
      return live
    },
    removeMembers(set: string, members: string[]) {
      const existing = sets.get(set)
      if (typeof existing === 'string') {
        if (members.includes(packedValue(existing))) sets.delete(set)
        return
      }
      for (const member of members) existing?.delete(member)
      if (existing?.size === 0) sets.delete(set)
    },
    append(log: string, entry: string, maxEntries: number) {
      const entries = logs.get(log) ?? []
      entries.push(entry)
      // Trimmed in steps of a tenth: shifting the whole array on every append costs O(n) each time.
      if (entries.length > maxEntries * 1.1) entries.splice(0, entries.length - maxEntries)
      logs.set(log, entries)
    },
    read(log: string, limit: number, before?: string) {
      const entries = logs.get(log) ?? []
      const end = before === undefined ? entries.length : entries.findIndex((e) => idOf(e) >= before)
      const stop = end === -1 ? entries.length : end
      return entries.slice(Math.max(0, stop - limit), stop).reverse()
    },
    /** Every live member, as [set, member, until]. */
    *liveMembers(t: number): Generator<[string, string, number]> {
      for (const [set, members] of sets)
        for (const [member, until] of pairs(members)) if (until > t) yield [set, member, until]
    },
    /** A copy of every log as it is now. */
    logs: () => [...logs].map(([log, entries]) => [log, [...entries]] as const),
    /**
     * Removes expired members (the index of a user who never comes back), yielding after every
     * `slice` members looked at. Logs are capped instead.
     */
    *sweep(t: number, slice: number): Generator<void, void, undefined> {
      let seen = 0
      for (const [set, members] of sets) {
        if (typeof members === 'string') {
          if (packedUntil(members) <= t) sets.delete(set)
          if (++seen % slice === 0) yield
          continue
        }
        for (const [member, until] of members) {
          if (until <= t) members.delete(member)
          if (++seen % slice === 0) yield
        }
        // Unless the set was replaced while this sweep yielded (its app removed and added again).
        if (members.size === 0 && sets.get(set) === members) sets.delete(set)
      }
    },
    removePrefix(prefix: string) {
      for (const set of [...sets.keys()]) if (set.startsWith(`${prefix}:`)) sets.delete(set)
    },
  }
}
