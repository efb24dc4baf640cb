/**
 * A backend over any unstorage `Storage` (`createStore({ storage })`), using only getItem,
 * setItem, removeItem and getKeys. Every key holds an envelope `{ value, expiresAt }`, checked on
 * read, since many drivers (memory, fs-lite) ignore `ttl`; a sweep removes the expired ones.
 * Claims, index sets and logs are records of their own under reserved prefixes (the store's keys,
 * keys.ts, never start with `_`): one record per set, so a logout reads that user's set only.
 * Every key is changed through keyed-updates.ts, so claims are atomic within one process only.
 */
import { createStorage, type Driver, type Storage } from 'unstorage'
import { type DumpEntry, type LogEntry, type StoreBackend, ttlSeconds } from '../backend.js'
import { type Envelope, keyedUpdates } from './keyed-updates.js'
import { startSweeper } from './sweeper.js'

export interface StorageBackendOptions {
  now: () => number
  /** Seconds between sweeps that remove expired entries. Default 600. */
  sweepInterval?: number
}

const CLAIM = '_claim:'
const SET = '_set:'
const LOG = '_log:'

/** A set's members with their expiry (seconds since epoch); pairs, as a member may be any string. */
type Members = [member: string, until: number][]
/** A set's members in memory; written as {@link Members} (unstorage stringifies through `toJSON`). */
class MemberSet extends Map<string, number> {
  toJSON(): Members {
    return [...this]
  }
}
/** A log's entries, oldest first, with the ids they sort by. */
type Entries = [id: string, entry: string][]

/** unstorage hands drivers JSON text; the envelope keeps it parsed, as unstorage would read it. */
const parse = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

export function createStorageBackend(inner: Storage, options: StorageBackendOptions): StoreBackend {
  const { now, sweepInterval = 600 } = options
  const update = keyedUpdates(inner)
  const live = (envelope: Envelope | null, t = now()) =>
    envelope && (envelope.expiresAt === undefined || envelope.expiresAt > t) ? envelope : null
  const get = (key: string) => update(key, (current) => [current, live(current)?.value ?? null])
  const envelope = (value: unknown, expiresAt: number | undefined, t: number): [Envelope, undefined, number?] =>
    expiresAt === undefined ? [{ value }, undefined] : [{ value, expiresAt }, undefined, ttlSeconds(expiresAt, t)]
  const put = (key: string, value: unknown, expiresAt?: number, t = now()) =>
    update(key, () => envelope(value, expiresAt, t))
  const remove = (key: string) => update(key, () => [null, undefined])
  /** The live members of a set, decoded once per batch of changes (the later ones get the same map). */
  const membersOf = (current: Envelope | null, t: number): MemberSet => {
    const value = live(current, t)?.value
    if (value instanceof MemberSet) return value
    return new MemberSet(((value ?? []) as Members).filter(([, until]) => until > t))
  }
  /** A change of a set by `edit`, which returns the expiry of a member it added. */
  const changeSet = (edit: (members: MemberSet) => number | undefined) => (current: Envelope | null) => {
    const t = now()
    const members = membersOf(current, t)
    // An upper bound of the members' expiries: exact after an add, kept after a removal.
    const expiresAt = Math.max(edit(members) ?? 0, live(current, t)?.expiresAt ?? 0)
    const next = members.size === 0 ? null : { value: members, expiresAt }
    return [next, undefined, ttlSeconds(expiresAt, t)] as [Envelope | null, undefined, number]
  }

  // Records as the store writes them through unstorage (with `ttl`), kept in envelopes.
  const driver: Driver = {
    name: 'backchannel-storage',
    hasItem: async (key) => (await get(key)) !== null,
    getItem: (key) => get(key),
    getItems: (items) => Promise.all(items.map(async ({ key }) => ({ key, value: await get(key) }))),
    setItem: (key, value, opts) => put(key, parse(value), opts?.ttl ? now() + opts.ttl : undefined),
    removeItem: (key) => remove(key),
    getKeys: (base) => inner.getKeys(base),
  }

  const removeExpired = async () => {
    const t = now()
    for (const [i, key] of (await inner.getKeys()).entries()) {
      await update(key, (current) => [
        current && current.expiresAt !== undefined && !live(current, t) ? null : current,
        0,
      ])
      // A slice per turn of the event loop, so that requests are not held up by the sweep.
      if (i % 100 === 99) await new Promise((resolve) => setImmediate(resolve))
    }
  }
  const sweeper = startSweeper(removeExpired, sweepInterval)

  const backend: StoreBackend = {
    storage: createStorage({ driver }),

    claim: (key, expiresAt, t) =>
      update(CLAIM + key, (current) =>
        live(current, t) ? [current, false] : [{ value: true, expiresAt }, true, ttlSeconds(expiresAt, t)],
      ),
    release: (key) => remove(CLAIM + key),

    addMember: (set, member, expiresAt) =>
      update(
        SET + set,
        changeSet((members) => {
          members.set(member, Math.max(expiresAt, members.get(member) ?? 0))
          return expiresAt
        }),
      ),
    members: (set) => update(SET + set, (current) => [current, [...membersOf(current, now()).keys()]]),
    async readIndex(set, prefix, also = []) {
      const list = await backend.members(set)
      const values = await backend.getMany([...list.map((member) => prefix + member), ...also])
      return { members: list.map((member, i) => ({ member, value: values[i] })), also: values.slice(list.length) }
    },
    removeMembers: (set, list) =>
      update(
        SET + set,
        changeSet((members) => {
          for (const member of list) members.delete(member)
          return undefined
        }),
      ),

    getMany: (keys) => Promise.all(keys.map(get)),
    async setMany(entries, t) {
      await Promise.all(entries.map(({ key, value, expiresAt }) => put(key, value, t + ttlSeconds(expiresAt, t), t)))
    },

    async append(entries, maxEntries) {
      const byLog = new Map<string, LogEntry[]>()
      for (const e of entries) {
        const list = byLog.get(e.log)
        if (list) list.push(e)
        else byLog.set(e.log, [e])
      }
      await Promise.all(
        [...byLog].map(([log, added]) =>
          update(LOG + log, (current) => {
            const kept = ((current?.value ?? []) as Entries).concat(added.map(({ id, entry }) => [id, entry]))
            return [{ value: kept.slice(-maxEntries) }, undefined]
          }),
        ),
      )
    },
    read: (log, limit, before) =>
      update(LOG + log, (current) => {
        const entries = (current?.value ?? []) as Entries
        const end = before === undefined ? -1 : entries.findIndex(([id]) => id >= before)
        const stop = end === -1 ? entries.length : end
        return [
          current,
          entries
            .slice(Math.max(0, stop - limit), stop)
            .map(([, entry]) => entry)
            .reverse(),
        ]
      }),

    async removePrefix(prefix) {
      const keys = await Promise.all([prefix, SET + prefix, CLAIM + prefix].map((base) => inner.getKeys(base)))
      await Promise.all(keys.flat().map(remove))
    },

    async *dump(t) {
      for (const key of await inner.getKeys()) {
        const current = live(await update(key, (envelope) => [envelope, envelope]), t)
        if (current) yield* entriesOf(key, current, t)
      }
    },
    async load(entries) {
      const t = now()
      for (const entry of entries) {
        if (entry.kind === 'record') {
          const value = JSON.parse(entry.value) as unknown
          // A live record already there stays: it may be newer than the dump (a later logout).
          await update(entry.key, (current) =>
            live(current, t) ? [current, undefined] : envelope(value, entry.expiresAt ?? undefined, t),
          )
        } else if (entry.kind === 'member') await backend.addMember(entry.set, entry.member, entry.expiresAt)
        else if (entry.kind === 'claim')
          await update(CLAIM + entry.key, (current) => {
            const expiresAt = Math.max(entry.expiresAt, live(current, t)?.expiresAt ?? 0)
            return [{ value: true, expiresAt }, undefined, ttlSeconds(expiresAt, t)]
          })
        else
          await update(LOG + entry.log, (current) => {
            const kept = (current?.value ?? []) as Entries
            // Kept once: loading the same dump twice leaves what loading it once does.
            if (kept.some(([id]) => id === entry.id)) return [current, undefined]
            return [{ value: kept.concat([[entry.id, entry.entry]]) }, undefined]
          })
      }
    },

    async ping() {
      await inner.hasItem(`${CLAIM}ping`)
    },

    async dispose() {
      await sweeper.stop()
    },
  }
  return backend
}

/** What one stored key holds, as dump entries. */
function* entriesOf(key: string, { value, expiresAt }: Envelope, t: number): Generator<DumpEntry> {
  if (key.startsWith(CLAIM)) yield { kind: 'claim', key: key.slice(CLAIM.length), expiresAt: expiresAt as number }
  else if (key.startsWith(SET)) {
    const set = key.slice(SET.length)
    const members = value instanceof MemberSet ? [...value] : (value as Members)
    for (const [member, until] of members) if (until > t) yield { kind: 'member', set, member, expiresAt: until }
  } else if (key.startsWith(LOG)) {
    for (const [id, entry] of value as Entries) yield { kind: 'log', log: key.slice(LOG.length), id, entry }
  } else yield { kind: 'record', key, value: JSON.stringify(value), expiresAt: expiresAt ?? null }
}
