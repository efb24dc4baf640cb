/**
 * Everything the single-process presets keep, in this process's maps: records, claims, index
 * sets and logs. It changes only through {@link Op}s, so the fs preset can journal each one
 * (journal.ts) and rebuild the same state by applying them again.
 */
import { createMapSets } from './map-sets.js'
import { flatten, pack, packedUntil, packedValue } from './packed.js'

/**
 * One change, as a journal line. Expiries are seconds since epoch (`null`: none). Every op but
 * `l` is idempotent: applying it twice leaves what applying it once does.
 */
export type Op =
  | ['s', key: string, value: string, until: number | null] // set a record (raw unstorage value)
  | ['d', key: string] // remove a record
  | ['c', key: string, until: number] // claim
  | ['r', key: string] // release a claim
  | ['a', set: string, member: string, until: number] // add to an index set
  | ['m', set: string, members: string[]] // remove from an index set
  | ['l', log: string, entry: string, maxEntries: number] // append to a log
  | ['x', prefix: string] // remove an application's records and sets

export type LocalState = ReturnType<typeof createLocalState>

/** Entries a sweep looks at between two yields (see `sweep`). */
export const SWEEP_SLICE = 10_000

export function createLocalState(now: () => number) {
  /** Raw values by key, packed with their expiry (packed.ts). */
  const records = new Map<string, string>()
  const claims = new Map<string, number>()
  const index = createMapSets()
  const live = (until: number | undefined, t = now()) => until !== undefined && until > t

  return {
    index,
    /** A record's raw value, unless it expired. */
    get(key: string): string | undefined {
      const entry = records.get(key)
      return entry !== undefined && live(packedUntil(entry)) ? packedValue(entry) : undefined
    },
    /** Live record keys starting with `base`. */
    keys(base: string): string[] {
      const t = now()
      return [...records]
        .filter(([key, entry]) => key.startsWith(base) && live(packedUntil(entry), t))
        .map(([key]) => key)
    },
    claimedUntil: (key: string) => claims.get(key),

    apply(op: Op): void {
      // Keys and values built by concatenation are flattened before they are kept (packed.ts).
      switch (op[0]) {
        case 's':
          records.set(flatten(op[1]), pack(op[3] ?? Number.POSITIVE_INFINITY, op[2]))
          break
        case 'd':
          records.delete(op[1])
          break
        case 'c':
          claims.set(flatten(op[1]), op[2])
          break
        case 'r':
          claims.delete(op[1])
          break
        case 'a':
          index.addMember(flatten(op[1]), op[2], op[3])
          break
        case 'm':
          index.removeMembers(op[1], op[2])
          break
        case 'l':
          index.append(op[1], flatten(op[2]), op[3])
          break
        case 'x':
          for (const key of records.keys()) if (key.startsWith(`${op[1]}:`)) records.delete(key)
          index.removePrefix(op[1])
          break
        default:
          throw new TypeError(`unknown journal op ${JSON.stringify(op)}`)
      }
    },

    /** The live state as ops. Logs are copied now; records, claims and sets are read as it goes. */
    snapshot(): Iterable<Op> {
      const logs = index.logs()
      const t = now()
      return (function* (): Generator<Op> {
        for (const [key, entry] of records) {
          const until = packedUntil(entry)
          if (live(until, t)) yield ['s', key, packedValue(entry), until === Number.POSITIVE_INFINITY ? null : until]
        }
        for (const [key, until] of claims) if (live(until, t)) yield ['c', key, until]
        for (const [set, member, until] of index.liveMembers(t)) yield ['a', set, member, until]
        for (const [log, entries] of logs) for (const entry of entries) yield ['l', log, entry, entries.length]
      })()
    },

    /**
     * Forgets what expired (reads already ignore it; this reclaims memory). It yields after every
     * {@link SWEEP_SLICE} entries, so that its caller can let requests run in between: one pass
     * over a million sessions held the event loop for 180–270 ms.
     */
    *sweep(): Generator<void, void, undefined> {
      const t = now()
      let seen = 0
      for (const [key, entry] of records) {
        if (!live(packedUntil(entry), t)) records.delete(key)
        if (++seen % SWEEP_SLICE === 0) yield
      }
      for (const [key, until] of claims) {
        if (!live(until, t)) claims.delete(key)
        if (++seen % SWEEP_SLICE === 0) yield
      }
      yield* index.sweep(t, SWEEP_SLICE)
    },
  }
}
