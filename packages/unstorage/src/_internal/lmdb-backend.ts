/**
 * The fs preset's backend: an LMDB environment (lmdb-js) in the data folder. The data lives in a
 * memory-mapped file, off the JavaScript heap; a commit is atomic and crash-safe, opening needs
 * no replay, and several processes of one host may share the folder (LMDB serialises writers
 * with a lock in `lock.mdb`, and readers see every commit).
 *
 * Tables (named databases), every key a string:
 *
 *   records   key                  → [until | null, raw JSON value]
 *   claims    key                  → until
 *   sets      set \x1f member      → until (a set is the range of keys starting `set\x1f`)
 *   logs      log \x1f id          → entry (ids sort by time: a log is read in reverse)
 *   meta      count \x1f log       → entries in that log (so trimming never counts them)
 *             converted            → true once a journal was imported (see journal.ts)
 *
 * Expiries are seconds since epoch. Reads ignore what expired; a sweep deletes it later.
 * Writes that only write go in one batch (one commit, no callback while the write lock is held).
 * A new claim is a batch on the condition, checked at its commit, that the key is absent. Writes
 * that must read first (expired claims, set members, logs) run inside lmdb-js's asynchronous
 * write transactions, where a read sees every commit of every process: that makes a claim atomic
 * across processes. Such a callback commits what it wrote even when it throws afterwards, so
 * each one checks its input before its first write.
 */
import { type Database, open, type RootDatabase } from 'lmdb'
import { createStorage, type Driver } from 'unstorage'
import { type DumpEntry, type LogEntry, type RecordWrite, type StoreBackend, ttlSeconds } from '../backend.js'
import type { Op } from './local-state.js'
import { startSweeper } from './sweeper.js'

type Record = [until: number | null, value: string]

/** The open environment and its tables. */
export interface Lmdb {
  env: RootDatabase
  records: Database<Record, string>
  claims: Database<number, string>
  sets: Database<number, string>
  logs: Database<string, string>
  meta: Database<unknown, string>
}

/** Keys longer than this (bytes) are refused: LMDB's limit with lmdb-js's default page size. */
export const MAX_KEY_BYTES = 1978

/** Entries a sweep looks at, and deletes in one transaction, between two turns of the event loop. */
export const SWEEP_SLICE = 1000

/** Opens (creating if needed) the environment in `folder`: `data.mdb` and `lock.mdb`. */
export function openLmdb(folder: string): Lmdb {
  const env = open({ path: folder })
  return {
    env,
    records: env.openDB<Record, string>({ name: 'records' }),
    claims: env.openDB<number, string>({ name: 'claims' }),
    sets: env.openDB<number, string>({ name: 'sets' }),
    logs: env.openDB<string, string>({ name: 'logs', encoding: 'string' }),
    meta: env.openDB<unknown, string>({ name: 'meta' }),
  }
}

/** Throws, before anything is written, when a key is too long for LMDB. */
function checkKeys(keys: Iterable<string>): void {
  for (const key of keys) {
    if (Buffer.byteLength(key) > MAX_KEY_BYTES) {
      throw new RangeError(`a key of ${Buffer.byteLength(key)} bytes exceeds the fs store's ${MAX_KEY_BYTES}`)
    }
  }
}

// Parts of a key are joined with \x1f (the ASCII unit separator): lmdb-js's key encoding reads a
// string holding \0 or \x01 back as an array.
const member = (set: string, name: string) => `${set}\x1f${name}`
const logKey = (log: string, id: string) => `${log}\x1f${id}`
const countKey = (log: string) => `count\x1f${log}`
/** The range of keys starting with `prefix` (the end is `prefix` with its last character moved up one). */
const range = (prefix: string) =>
  prefix === ''
    ? {}
    : { start: prefix, end: prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1) }

/**
 * The writes below, for use inside a write transaction (they read, then write). Shared by the
 * backend and the journal's conversion.
 */
export function writers(db: Lmdb) {
  const { sets, logs, meta } = db
  return {
    /** Adds a member; an existing one keeps the later expiry. */
    addMember(set: string, name: string, until: number) {
      const key = member(set, name)
      sets.put(key, Math.max(until, sets.get(key) ?? 0))
    },
    /**
     * Appends entries to one log and deletes its oldest beyond `maxEntries`: the count is read,
     * and the log trimmed, once for them all.
     */
    append(log: string, entries: Iterable<{ id: string; entry: string }>, maxEntries: number) {
      let count = (meta.get(countKey(log)) as number | undefined) ?? 0
      for (const { id, entry } of entries) {
        const key = logKey(log, id)
        if (!logs.doesExist(key)) count++
        logs.put(key, entry)
      }
      if (count > maxEntries) {
        for (const oldest of logs.getKeys({ ...range(`${log}\x1f`), limit: count - maxEntries })) logs.remove(oldest)
        count = maxEntries
      }
      meta.put(countKey(log), count)
    },
  }
}

/**
 * Writes the ops of a snapshot (local-state.ts's `snapshot()`), inside a write transaction.
 * Applying them twice leaves what applying them once does.
 */
export function writeSnapshot(db: Lmdb, ops: Iterable<Op>): void {
  const write = writers(db)
  for (const op of ops) {
    switch (op[0]) {
      case 's':
        db.records.put(op[1], [op[3], op[2]])
        break
      case 'c':
        db.claims.put(op[1], Math.max(op[2], db.claims.get(op[1]) ?? 0))
        break
      case 'a':
        write.addMember(op[1], op[2], op[3])
        break
      case 'l':
        write.append(op[1], [{ id: (JSON.parse(op[2]) as { id: string }).id, entry: op[2] }], op[3])
        break
      default:
        throw new TypeError(`a snapshot holds no ${op[0]} op`)
    }
  }
}

export interface LmdbBackendOptions {
  now: () => number
  /** Acknowledge a write once it is on the disk (fsynced), rather than once it is committed. */
  fsync: boolean
  /** Seconds between sweeps that delete expired records, members and claims. */
  sweepInterval: number
}

/** The {@link StoreBackend} over an open environment; `dispose()` closes it. */
export function createLmdbBackend(db: Lmdb, options: LmdbBackendOptions): StoreBackend {
  const { env, records, claims, sets, logs } = db
  const { now, fsync, sweepInterval } = options
  const write = writers(db)

  /** Resolves once `written` is committed, and with `fsync` once it is on the disk. */
  const durable = async <T>(written: Promise<T>): Promise<T> => {
    const result = await written
    if (fsync) await env.flushed
    return result
  }
  const live = (until: number | null | undefined, t = now()) => until === null || (until !== undefined && until > t)
  const raw = (key: string, t = now()): string | undefined => {
    const record = records.get(key)
    return record !== undefined && live(record[0], t) ? record[1] : undefined
  }
  /** A record, parsed; `null` where there is none. */
  const read = (key: string, t = now()): unknown => {
    const value = raw(key, t)
    return value === undefined ? null : JSON.parse(value)
  }
  /** Records ready to put, checked first: nothing below may throw once a transaction writes. */
  const prepare = (entries: RecordWrite[], t: number): [string, Record][] => {
    checkKeys(entries.map(({ key }) => key))
    return entries.map(({ key, value, expiresAt }) => [key, [t + ttlSeconds(expiresAt, t), JSON.stringify(value)]])
  }
  const membersOf = (set: string, t = now()) => {
    const found: string[] = []
    const start = set.length + 1
    for (const { key, value } of sets.getRange(range(`${set}\x1f`))) if (value > t) found.push(key.slice(start))
    return found
  }
  /** Deletes every key starting with `prefix` from `table`, a slice per transaction. */
  const removeRange = async (table: Database<unknown, string>, prefix: string) => {
    for (;;) {
      const found = [...table.getKeys({ ...range(prefix), limit: SWEEP_SLICE })]
      if (found.length === 0) return
      await durable(
        table.transaction(() => {
          for (const key of found) table.remove(key)
        }),
      )
    }
  }

  const claimAndSetMany: NonNullable<StoreBackend['claimAndSetMany']> = async (claim, entries, t) => {
    checkKeys([claim.key])
    const puts = prepare(entries, t)
    const write = () => {
      claims.put(claim.key, claim.expiresAt)
      for (const [key, record] of puts) records.put(key, record)
    }
    const held = claims.get(claim.key)
    // Held: the holder's commit may not be on the disk yet, and this answer must not outlive it.
    if (held !== undefined && held > t) return durable(Promise.resolve(false))
    // A new claim is written on the condition, checked by the commit itself, that the key is
    // still absent: no callback holds the write lock, and a claim made meanwhile by any process
    // makes this one write nothing. Only an expired claim not yet swept needs a read in the write.
    if (held === undefined) return durable(claims.ifNoExists(claim.key, write))
    return durable(
      env.transaction(() => {
        if ((claims.get(claim.key) ?? 0) > t) return false
        write()
        return true
      }),
    )
  }

  // Records go through unstorage like every preset's; this driver keeps their raw values.
  const driver: Driver = {
    name: 'backchannel-lmdb',
    hasItem: (key) => raw(key) !== undefined,
    getItem: (key) => raw(key) ?? null,
    getItems: (items) => {
      const t = now()
      return items.map(({ key }) => ({ key, value: raw(key, t) ?? null }))
    },
    setItem: (key, value, options) => {
      checkKeys([key])
      return durable(records.put(key, [options?.ttl ? now() + options.ttl : null, value])).then(() => {})
    },
    removeItem: (key) => durable(records.remove(key)).then(() => {}),
    getKeys: (base) => {
      const t = now()
      const found: string[] = []
      for (const { key, value } of records.getRange(range(base ?? ''))) if (live(value[0], t)) found.push(key)
      return found
    },
    clear: (base) => removeRange(records, base ?? ''),
  }
  const storage = createStorage({ driver })

  /** Deletes what expired in `table`, a slice at a time, each slice re-checked in its transaction. */
  async function sweepTable<V>(table: Database<V, string>, until: (value: V) => number | null) {
    let after: string | undefined
    for (;;) {
      const t = now()
      const expired: string[] = []
      let seen = 0
      for (const { key, value } of table.getRange({ start: after, limit: SWEEP_SLICE + 1 })) {
        if (key === after) continue
        after = key
        seen++
        if (!live(until(value), t)) expired.push(key)
      }
      if (expired.length > 0) {
        await table.transaction(() => {
          for (const key of expired) {
            const value = table.get(key)
            if (value !== undefined && !live(until(value), t)) table.remove(key)
          }
        })
      }
      if (seen < SWEEP_SLICE) return
      await new Promise((resolve) => setImmediate(resolve))
    }
  }
  const sweep = async () => {
    await sweepTable(records, (record) => record[0])
    await sweepTable(claims, (until) => until)
    await sweepTable(sets, (until) => until)
  }
  const sweeper = startSweeper(sweep, sweepInterval)

  return {
    storage,

    claim: (key, expiresAt, t) => claimAndSetMany({ key, expiresAt }, [], t),
    claimAndSetMany,

    release: async (key) => {
      await durable(claims.remove(key))
    },

    async addMember(set, name, expiresAt) {
      checkKeys([member(set, name)])
      await durable(sets.transaction(() => write.addMember(set, name, expiresAt)))
    },
    members: async (set) => membersOf(set),
    async readIndex(set, prefix, also = []) {
      const t = now()
      return {
        members: membersOf(set, t).map((name) => ({ member: name, value: read(prefix + name, t) })),
        also: also.map((key) => read(key, t)),
      }
    },
    async removeMembers(set, names) {
      if (names.length === 0) return
      await durable(
        sets.batch(() => {
          for (const name of names) sets.remove(member(set, name))
        }),
      )
    },
    getMany: async (keys) => {
      const t = now()
      return keys.map((key) => read(key, t))
    },

    async setMany(entries, t) {
      if (entries.length === 0) return
      const puts = prepare(entries, t)
      await durable(
        records.batch(() => {
          for (const [key, record] of puts) records.put(key, record)
        }),
      )
    },

    async append(entries: LogEntry[], maxEntries) {
      if (entries.length === 0) return
      checkKeys(entries.flatMap(({ log, id }) => [logKey(log, id), countKey(log)]))
      const byLog = new Map<string, LogEntry[]>()
      for (const entry of entries) byLog.get(entry.log)?.push(entry) ?? byLog.set(entry.log, [entry])
      await durable(
        logs.transaction(() => {
          for (const [log, ofLog] of byLog) write.append(log, ofLog, maxEntries)
        }),
      )
    },

    async read(log, limit, before) {
      const last = before === undefined ? `${log}\x20` : logKey(log, before)
      const found: string[] = []
      // A reverse range starts at, and includes, its upper bound: `before` itself is skipped.
      for (const { key, value } of logs.getRange({ start: last, end: `${log}\x1f`, reverse: true, limit: limit + 1 })) {
        if (key !== last && found.length < limit) found.push(value)
      }
      return found
    },

    async removePrefix(prefix) {
      for (const table of [records, claims, sets] as Database<unknown, string>[]) await removeRange(table, `${prefix}:`)
    },

    async ping() {
      // Throws once the environment is closed.
      records.doesExist('ping')
    },

    async dispose() {
      await sweeper.stop()
      await env.close()
    },
  }
}

/** Every live entry of the environment, table by table, for {@link StoreBackend.dump}. */
export async function* dumpLmdb(db: Lmdb, now: number): AsyncGenerator<DumpEntry> {
  for (const { key, value } of db.records.getRange()) {
    const [until, raw] = value
    if (until === null || until > now) yield { kind: 'record', key, value: raw, expiresAt: until }
  }
  for (const { key, value } of db.claims.getRange()) if (value > now) yield { kind: 'claim', key, expiresAt: value }
  for (const { key, value } of db.sets.getRange()) {
    const cut = key.lastIndexOf('\x1f')
    if (value > now) yield { kind: 'member', set: key.slice(0, cut), member: key.slice(cut + 1), expiresAt: value }
  }
  for (const { key, value } of db.logs.getRange()) {
    const cut = key.lastIndexOf('\x1f')
    yield { kind: 'log', log: key.slice(0, cut), id: key.slice(cut + 1), entry: value }
  }
}

/** Writes dumped entries in one transaction (see {@link StoreBackend.load}); logs are not trimmed. */
export async function loadLmdb(db: Lmdb, entries: DumpEntry[], now: number): Promise<void> {
  checkKeys(
    entries.map((e) =>
      e.kind === 'member' ? member(e.set, e.member) : e.kind === 'log' ? logKey(e.log, e.id) : e.key,
    ),
  )
  const write = writers(db)
  await db.env.transaction(() => {
    for (const entry of entries) {
      if (entry.kind === 'record') {
        const until = db.records.get(entry.key)?.[0]
        if (until === undefined || (until !== null && until <= now))
          db.records.put(entry.key, [entry.expiresAt, entry.value])
      } else if (entry.kind === 'claim')
        db.claims.put(entry.key, Math.max(entry.expiresAt, db.claims.get(entry.key) ?? 0))
      else if (entry.kind === 'member') write.addMember(entry.set, entry.member, entry.expiresAt)
      else write.append(entry.log, [{ id: entry.id, entry: entry.entry }], Number.POSITIVE_INFINITY)
    }
  })
  await db.env.flushed
}
