/**
 * Index sets and logs in maps, for the memory preset: the in-process counterpart of dir-sets.ts,
 * with the same methods.
 */

export function createMapSets(now: () => number) {
  const sets = new Map<string, Map<string, number>>()
  const logs = new Map<string, string[]>()
  const idOf = (line: string) => (JSON.parse(line) as { id: string }).id

  return {
    async addMember(set: string, member: string, expiresAt: number) {
      const members = sets.get(set) ?? new Map<string, number>()
      sets.set(set, members.set(member, Math.max(expiresAt, members.get(member) ?? 0)))
    },
    async members(set: string) {
      const t = now()
      return [...(sets.get(set) ?? [])].filter(([, until]) => until > t).map(([member]) => member)
    },
    async removeMembers(set: string, members: string[]) {
      const existing = sets.get(set)
      for (const member of members) existing?.delete(member)
      if (existing?.size === 0) sets.delete(set)
    },
    async append(log: string, _id: string, entry: string, maxEntries: number, _trim?: boolean) {
      const entries = logs.get(log) ?? []
      entries.push(entry)
      // Trimmed here on every append, in steps of a tenth (`_trim` is for the fs index): shifting
      // the whole array on every append costs O(n) each time.
      if (entries.length > maxEntries * 1.1) entries.splice(0, entries.length - maxEntries)
      logs.set(log, entries)
    },
    async read(log: string, limit: number, before?: string) {
      const entries = logs.get(log) ?? []
      const end = before === undefined ? entries.length : entries.findIndex((e) => idOf(e) >= before)
      const stop = end === -1 ? entries.length : end
      return entries.slice(Math.max(0, stop - limit), stop).reverse()
    },
    /** Removes expired members (the index of a user who never comes back). Logs are capped instead. */
    async sweep() {
      const t = now()
      for (const [set, members] of sets) {
        for (const [member, until] of members) if (until <= t) members.delete(member)
        if (members.size === 0) sets.delete(set)
      }
    },
    async removePrefix(prefix: string) {
      for (const set of [...sets.keys()]) if (set.startsWith(`${prefix}:`)) sets.delete(set)
    },
  }
}
