/**
 * The in-memory reference implementation of {@link SessionStore} and {@link ReplayStore}: the
 * semantics every other store must match, in one process and one file. Single-threaded
 * JavaScript makes each method atomic.
 * @module
 */
import type { ReplayStore } from '../replay.js'
import {
  DEFAULT_RETENTION,
  DEFAULT_SESSION_TTL,
  isSubjectWide,
  normalizeEmail,
  type RevocationTarget,
  type SessionInput,
  type SessionRecord,
  type SessionState,
  type SessionStore,
} from '../session.js'

/** Options of {@link createMemoryStore}. */
export interface MemoryStoreOptions {
  /** The clock, seconds since epoch. Default `Date.now() / 1000`. */
  now?: () => number
  /** Seconds a session without `expiresAt` is kept. Default {@link DEFAULT_SESSION_TTL} (30 days). */
  sessionTtl?: number
  /** Seconds a logout is remembered for sessions registered after it. Default {@link DEFAULT_RETENTION} (30 days). */
  retention?: number
}

interface Marker {
  revokedAt: number
  /** sid tombstones: unused. sub watermarks: the latest logout's `issuedAt`. */
  issuedAt: number
  expiresAt: number
}

interface Entry {
  record: SessionRecord
  /** `record.expiresAt`, or registration time + `sessionTtl`. */
  expiresAt: number
}

/**
 * Builds the reference store.
 *
 * @example
 * ```ts
 * import { createMemoryStore } from '@backchannel/core/testing'
 * const store = createMemoryStore()
 * processLogout(request, { apps, verifier, revoker: store })
 * ```
 */
export function createMemoryStore(options: MemoryStoreOptions = {}): SessionStore & ReplayStore {
  const now = options.now ?? (() => Date.now() / 1000)
  const sessionTtl = options.sessionTtl ?? DEFAULT_SESSION_TTL
  const retention = options.retention ?? DEFAULT_RETENTION
  const sessions = new Map<string, Entry>()
  const bySid = new Map<string, Set<string>>()
  const bySub = new Map<string, Set<string>>()
  const byEmail = new Map<string, Set<string>>()
  const sidTombstones = new Map<string, Marker>()
  const subWatermarks = new Map<string, Marker>()
  const claims = new Map<string, number>()
  const key = (...parts: string[]) => JSON.stringify(parts)

  const live = (app: string, sessionId: string): Entry | undefined => {
    const entry = sessions.get(key(app, sessionId))
    return entry && entry.expiresAt > now() ? entry : undefined
  }
  const marker = (map: Map<string, Marker>, k: string) => {
    const m = map.get(k)
    return m && m.expiresAt > now() ? m : undefined
  }
  const index = (map: Map<string, Set<string>>, k: string, sessionId: string) => {
    const set = map.get(k) ?? new Set()
    map.set(k, set.add(sessionId))
  }
  // Index entries may outlive a re-registration under other ids: every read re-checks the record.
  const find = (map: Map<string, Set<string>>, k: string, app: string, match: (r: SessionRecord) => boolean) =>
    [...(map.get(k) ?? [])]
      .map((id) => live(app, id)?.record)
      .filter((r): r is SessionRecord => r !== undefined && match(r))
  let writes = 0
  const sweep = () => {
    if (++writes % 1024 !== 0) return
    const t = now()
    for (const [k, e] of sessions) if (e.expiresAt <= t) sessions.delete(k)
    for (const map of [sidTombstones, subWatermarks]) for (const [k, m] of map) if (m.expiresAt <= t) map.delete(k)
    for (const [k, exp] of claims) if (exp <= t) claims.delete(k)
    for (const map of [bySid, bySub, byEmail]) {
      for (const [k, ids] of map) {
        const app = (JSON.parse(k) as string[])[0] as string
        for (const id of ids) if (!sessions.has(key(app, id))) ids.delete(id)
        if (ids.size === 0) map.delete(k)
      }
    }
  }

  const claim = (k: string, expiresAt: number) => {
    const held = claims.get(k)
    if (held !== undefined && held > now()) return false
    claims.set(k, expiresAt)
    return true
  }

  const store: SessionStore & ReplayStore = {
    async register(input: SessionInput) {
      sweep()
      const t = now()
      const record: SessionRecord = { ...input, authTime: input.authTime ?? t, createdAt: t }
      const { app, iss, sid, sub, sessionId } = record
      const tombstone = sid === undefined ? undefined : marker(sidTombstones, key(app, iss, sid))
      const watermark = marker(subWatermarks, key(app, iss, sub))
      const revokedAt =
        tombstone?.revokedAt ?? (watermark && record.authTime <= watermark.issuedAt ? watermark.revokedAt : undefined)
      if (revokedAt !== undefined) record.revokedAt = revokedAt
      sessions.set(key(app, sessionId), { record, expiresAt: record.expiresAt ?? t + sessionTtl })
      if (sid !== undefined) index(bySid, key(app, iss, sid), sessionId)
      index(bySub, key(app, iss, sub), sessionId)
      if (record.email !== undefined) index(byEmail, key(app, normalizeEmail(record.email)), sessionId)
      return { ...record }
    },

    async status(app, sessionId): Promise<SessionState> {
      const entry = live(app, sessionId)
      if (!entry) return { state: 'unknown' }
      const { revokedAt } = entry.record
      return revokedAt === undefined ? { state: 'active' } : { state: 'revoked', revokedAt }
    },

    async list(app, iss, sub) {
      return find(bySub, key(app, iss, sub), app, (r) => r.iss === iss && r.sub === sub)
        .sort((a, b) => a.createdAt - b.createdAt)
        .map((r) => ({ ...r }))
    },

    async listByEmail(app, email) {
      const normalized = normalizeEmail(email)
      return find(
        byEmail,
        key(app, normalized),
        app,
        (r) => r.email !== undefined && normalizeEmail(r.email) === normalized,
      )
        .sort((a, b) => a.createdAt - b.createdAt)
        .map((r) => ({ ...r }))
    },

    async end(app, sessionId) {
      const entry = live(app, sessionId)
      if (!entry || entry.record.revokedAt !== undefined) return { ended: false }
      entry.record.revokedAt = now()
      return { ended: true }
    },

    async revoke(target: RevocationTarget) {
      sweep()
      const t = now()
      const { app, iss, sid } = target
      const ended = new Set<SessionRecord>()
      const subs = new Set<string>()
      if (sid !== undefined) {
        for (const r of find(bySid, key(app, iss, sid), app, (r) => r.iss === iss && r.sid === sid)) ended.add(r)
        sidTombstones.set(key(app, iss, sid), { revokedAt: t, issuedAt: target.issuedAt, expiresAt: t + retention })
      }
      if (isSubjectWide(target)) {
        if (target.sub !== undefined) subs.add(target.sub)
        for (const r of ended) subs.add(r.sub)
      }
      for (const sub of subs) {
        for (const r of find(bySub, key(app, iss, sub), app, (r) => r.iss === iss && r.sub === sub)) ended.add(r)
        const k = key(app, iss, sub)
        const previous = marker(subWatermarks, k)
        const issuedAt = Math.max(previous?.issuedAt ?? target.issuedAt, target.issuedAt)
        subWatermarks.set(k, { revokedAt: t, issuedAt, expiresAt: t + retention })
      }
      let revoked = 0
      for (const record of ended) {
        if (record.revokedAt === undefined) {
          record.revokedAt = t
          revoked++
        }
      }
      return { revoked }
    },

    async recorded(target: RevocationTarget) {
      const { app, iss, sub, sid, issuedAt } = target
      if (sid !== undefined && !marker(sidTombstones, key(app, iss, sid))) return false
      if (sub === undefined || !isSubjectWide(target)) return true
      return (marker(subWatermarks, key(app, iss, sub))?.issuedAt ?? Number.NEGATIVE_INFINITY) >= issuedAt
    },

    async claimAndRevoke(k, expiresAt, target) {
      // revoke() does not wait for anything here: the claim and the revocation happen together.
      return claim(k, expiresAt) ? { claimed: true, ...(await store.revoke(target)) } : { claimed: false }
    },

    claim: async (k, expiresAt) => claim(k, expiresAt),

    async release(k) {
      claims.delete(k)
    },
  }
  return store
}
