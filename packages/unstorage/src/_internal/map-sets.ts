/** Index sets and capped logs in maps, for the local state (local-state.ts). */

/**
 * A set of one member: most index sets (a sid's sessions, most users'). As a `Map` each took one
 * object and about 150 bytes more (bench/heap.js: 1,489 → 1,185 bytes per session), and every
 * object is work for each major garbage collection, which marks the whole state.
 */
class One {
  constructor(
    readonly member: string,
    public until: number,
  ) {}
}

/** A set's members by expiry (seconds since epoch). */
type Members = One | Map<string, number>

/** The `[member, until]` pairs of a set. */
const pairs = (members: Members): Iterable<[string, number]> =>
  members instanceof One ? [[members.member, members.until]] : members

export function createMapSets() {
  const sets = new Map<string, Members>()
  const logs = new Map<string, string[]>()
  const idOf = (line: string) => (JSON.parse(line) as { id: string }).id

  return {
    addMember(set: string, member: string, expiresAt: number) {
      const members = sets.get(set)
      if (members === undefined) {
        sets.set(set, new One(member, expiresAt))
      } else if (members instanceof Map) {
        members.set(member, Math.max(expiresAt, members.get(member) ?? 0))
      } else if (members.member === member) {
        members.until = Math.max(expiresAt, members.until)
      } else {
        // A second member: a Map from here on.
        sets.set(set, new Map([[members.member, members.until]]).set(member, expiresAt))
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
      if (existing instanceof One) {
        if (members.includes(existing.member)) sets.delete(set)
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
        if (members instanceof One) {
          if (members.until <= t) sets.delete(set)
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
