/**
 * What a preset hands the store: an unstorage `Storage` for records, plus the few primitives
 * unstorage has no portable form of. Each preset implements them with its backend's own tools
 * (Redis `SET NX`, `SADD`, sorted sets; MongoDB upserts; in-process maps and locks).
 * @module
 */
import type { Storage, StorageValue } from 'unstorage'

/** What {@link StoreBackend.readIndex} returns. */
export interface IndexRead {
  members: { member: string; value: unknown }[]
  /** The records at the keys `also`, in order. */
  also: unknown[]
}

/** One record {@link StoreBackend.setMany} writes. */
export interface RecordWrite {
  key: string
  value: StorageValue
  expiresAt: number
}

/** One entry {@link StoreBackend.append} adds to a log. */
export interface LogEntry {
  log: string
  id: string
  entry: string
}

/**
 * One entry of a store's state, as {@link StoreBackend.dump} yields it and {@link StoreBackend.load}
 * takes it. Keys are the logical keys (`_internal/keys.ts`), the same on every backend; expiries
 * are seconds since epoch (`null`: none).
 */
export type DumpEntry =
  /** A record; `value` is its raw JSON text, byte for byte. */
  | { kind: 'record'; key: string; value: string; expiresAt: number | null }
  | { kind: 'member'; set: string; member: string; expiresAt: number }
  | { kind: 'claim'; key: string; expiresAt: number }
  /** One audit entry; a log's entries sort by `id`. */
  | { kind: 'log'; log: string; id: string; entry: string }

/** The backend primitives of one preset. All times are seconds since epoch. */
export interface StoreBackend {
  /** Records (sessions, markers, apps). Values are JSON; each carries its own expiry. */
  storage: Storage
  /**
   * Claims `key` until `expiresAt`: exactly one concurrent caller gets `true`, across every
   * process sharing the backend. A claim whose expiry passed (by `now`) may be claimed again.
   */
  claim(key: string, expiresAt: number, now: number): Promise<boolean>
  /** Drops a claim. */
  release(key: string): Promise<void>
  /** Adds `member` to the set `set`, which lives at least until `expiresAt`. */
  addMember(set: string, member: string, expiresAt: number): Promise<void>
  /** Every member of `set` (cost grows with this set only). */
  members(set: string): Promise<string[]>
  /**
   * Every member of `set` with the record stored at `prefix + member` (parsed; `null` where it is
   * gone) and the records at the keys `also` (as {@link getMany} reads them), in one round trip
   * where the backend can (a Lua script on Redis).
   */
  readIndex(set: string, prefix: string, also?: string[]): Promise<IndexRead>
  /** Removes members (stale index entries). */
  removeMembers(set: string, members: string[]): Promise<void>
  /**
   * Reads several records at once (one `MGET` on Redis), parsed, `null` where there is none.
   * The hot path of a logout reads through this rather than `storage.getItems`, which normalises
   * and re-joins every key and parses every value again.
   */
  getMany(keys: string[]): Promise<unknown[]>
  /** Writes several records at once; atomically where the backend can (one Lua script on Redis). */
  setMany(entries: RecordWrite[], now: number): Promise<void>
  /**
   * Optional: {@link claim} then {@link setMany} as one write, where the backend can make it one
   * (a Lua script on Redis, one journal batch on fs). `false`, writing nothing, when the claim is
   * held; when it throws, the claim is not kept. Where a backend has it, a logout takes one round
   * trip fewer. A backend that has it writes {@link setMany} atomically too (the store relies on it
   * to keep a revocation's markers and relay rows in one write).
   */
  claimAndSetMany?(claim: { key: string; expiresAt: number }, entries: RecordWrite[], now: number): Promise<boolean>
  /**
   * Appends entries to their logs, in order, each log capped at its newest `maxEntries`; `id`
   * sorts by time. One write for them all where the backend can (one Lua script on Redis).
   */
  append(entries: LogEntry[], maxEntries: number): Promise<void>
  /** Up to `limit` entries of a log, newest first, older than the id `before` when given. */
  read(log: string, limit: number, before?: string): Promise<string[]>
  /** Removes every record, set and claim whose key starts with `prefix` (an application's data). */
  removePrefix(prefix: string): Promise<void>
  /**
   * Optional: every live entry (whose expiry is after `now`), in no particular order, read as it
   * goes (a few thousand at a time), for `backchannel export`.
   */
  dump?(now: number): AsyncIterable<DumpEntry>
  /**
   * Optional: writes entries a {@link dump} yielded, next to what is there: a record is written
   * only where no live one is (the one there may be newer: a later logout must not be undone), a
   * member or claim keeps the later expiry, a log entry with an id already there is kept once.
   * Loading the same entries twice leaves what loading them once does.
   */
  load?(entries: DumpEntry[]): Promise<void>
  /** Throws when the backend cannot be reached (for readiness checks). */
  ping(): Promise<void>
  /** Closes connections and timers. */
  dispose(): Promise<void>
}

/** Seconds from `now` until `expiresAt`, rounded up, at least 1 (for backends' TTLs). */
export function ttlSeconds(expiresAt: number, now: number): number {
  return Math.max(1, Math.ceil(expiresAt - now))
}
