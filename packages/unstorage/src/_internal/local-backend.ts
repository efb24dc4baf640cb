/**
 * The backend of the memory preset over the maps of local-state.ts. Every change is one
 * {@link Op}, applied at once, so a read-modify-write such as a claim is atomic on JavaScript's
 * one thread. Correct for one process only, which is why the memory preset must not be shared by
 * several gateway instances (use fs, Redis or MongoDB for that).
 */
import { createStorage, type Driver } from 'unstorage'
import { type DumpEntry, type RecordWrite, type StoreBackend, ttlSeconds } from '../backend.js'
import type { LocalState, Op } from './local-state.js'
import { startSweeper } from './sweeper.js'

export interface LocalBackendOptions {
  now: () => number
  /** Seconds between sweeps that forget expired records, members and claims. Default 600. */
  sweepInterval?: number
}

export function createLocalBackend(state: LocalState, options: LocalBackendOptions): StoreBackend {
  const { now, sweepInterval = 600 } = options
  const write = (op: Op): Promise<void> => {
    state.apply(op)
    return Promise.resolve()
  }

  /** A record, parsed; `null` where there is none. */
  const read = (key: string): unknown => {
    const value = state.get(key)
    return value === undefined ? null : JSON.parse(value)
  }

  const setAll = (entries: RecordWrite[], t: number) =>
    entries.map(({ key, value, expiresAt }) => write(['s', key, JSON.stringify(value), t + ttlSeconds(expiresAt, t)]))

  const claimAndSetMany: NonNullable<StoreBackend['claimAndSetMany']> = async (claim, entries, t) => {
    const { key, expiresAt } = claim
    const held = state.claimedUntil(key)
    if (held !== undefined && held > t) return false
    await Promise.all([write(['c', key, expiresAt]), ...setAll(entries, t)])
    return true
  }

  // Records go through unstorage like every preset's; this driver keeps their raw values.
  const driver: Driver = {
    name: 'backchannel-local',
    hasItem: (key) => state.get(key) !== undefined,
    getItem: (key) => state.get(key) ?? null,
    getItems: (items) => items.map(({ key }) => ({ key, value: state.get(key) ?? null })),
    setItem: (key, value, options) => write(['s', key, value, options?.ttl ? now() + options.ttl : null]),
    removeItem: (key) => write(['d', key]),
    getKeys: (base) => state.keys(base ?? ''),
    clear: (base) => Promise.all(state.keys(base ?? '').map((key) => write(['d', key]))).then(() => {}),
  }
  const storage = createStorage({ driver })

  // A slice of the sweep per turn of the event loop, so that requests are not held up by it.
  const sweep = async () => {
    for (const _ of state.sweep()) await new Promise((resolve) => setImmediate(resolve))
  }
  const sweeper = startSweeper(sweep, sweepInterval)

  return {
    storage,

    claim: (key, expiresAt, t) => claimAndSetMany({ key, expiresAt }, [], t),
    claimAndSetMany,

    release: (key) => write(['r', key]),

    addMember: (set, member, expiresAt) => write(['a', set, member, expiresAt]),
    members: async (set) => state.index.members(set, now()),
    readIndex: async (set, prefix, also = []) => ({
      members: state.index.members(set, now()).map((member) => ({ member, value: read(prefix + member) })),
      also: also.map(read),
    }),
    removeMembers: (set, members) => write(['m', set, members]),
    getMany: async (keys) => keys.map(read),

    async setMany(entries, t) {
      await Promise.all(setAll(entries, t))
    },

    async append(entries, maxEntries) {
      await Promise.all(entries.map(({ log, entry }) => write(['l', log, entry, maxEntries])))
    },

    read: async (log, limit, before) => state.index.read(log, limit, before),
    removePrefix: (prefix) => write(['x', prefix]),

    // The snapshot leaves out what expired by the state's clock, the same as `now`.
    async *dump() {
      for (const op of state.snapshot()) {
        if (op[0] === 's') yield { kind: 'record', key: op[1], value: op[2], expiresAt: op[3] }
        else if (op[0] === 'c') yield { kind: 'claim', key: op[1], expiresAt: op[2] }
        else if (op[0] === 'a') yield { kind: 'member', set: op[1], member: op[2], expiresAt: op[3] }
        else if (op[0] === 'l') {
          yield { kind: 'log', log: op[1], id: (JSON.parse(op[2]) as { id: string }).id, entry: op[2] }
        }
      }
    },
    load: async (entries) => loadInto(state, entries),

    async ping() {},

    async dispose() {
      await sweeper.stop()
    },
  }
}

/** Writes dumped entries into the local state (see {@link StoreBackend.load}). */
function loadInto(state: LocalState, entries: DumpEntry[]): void {
  const logged = new Map<string, Set<string>>()
  const idsOf = (log: string) => {
    let ids = logged.get(log)
    if (!ids) {
      ids = new Set(state.index.read(log, Number.MAX_SAFE_INTEGER).map((e) => (JSON.parse(e) as { id: string }).id))
      logged.set(log, ids)
    }
    return ids
  }
  for (const entry of entries) {
    if (entry.kind === 'record') {
      if (state.get(entry.key) === undefined) state.apply(['s', entry.key, entry.value, entry.expiresAt])
    } else if (entry.kind === 'member') state.apply(['a', entry.set, entry.member, entry.expiresAt])
    else if (entry.kind === 'claim')
      state.apply(['c', entry.key, Math.max(entry.expiresAt, state.claimedUntil(entry.key) ?? 0)])
    else if (!idsOf(entry.log).has(entry.id)) {
      // Appended in the dump's order, which is the log's; never trimmed here (the dump was capped).
      state.apply(['l', entry.log, entry.entry, Number.POSITIVE_INFINITY])
      idsOf(entry.log).add(entry.id)
    }
  }
}
