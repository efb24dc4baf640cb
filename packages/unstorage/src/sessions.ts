/**
 * Where a session is revoked. A logout is **one marker write**: a tombstone under (app, iss, sid)
 * or a watermark under (app, iss, sub) holding the logout's `issuedAt` and the time it was
 * processed (`revokedAt`). A session's state is derived from its record and those two markers
 * on every read, so ending the sessions and recording the logout cannot come apart, a session
 * registered after its logout is born revoked, and a revocation racing a registration still wins.
 * A sid logout also stamps the records it ends, in the same write, so that a later subject-wide
 * logout counts what it ends from the records and one watermark, not a tombstone per session.
 * @module
 */
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
} from '@backchannel/core'
import { keys } from './_internal/keys.js'
import { type RecordWrite, type StoreBackend, ttlSeconds } from './backend.js'
import { announceDeliveries, deliveriesOf, deliveryWrites, type OutboxRetention, outboxRetention } from './outbox.js'

/** Options shared by every session store. */
export interface SessionOptions {
  /** The clock, seconds since epoch. Default `Date.now() / 1000`. */
  now?: () => number
  /** Seconds a session registered without `expiresAt` is kept. Default `DEFAULT_SESSION_TTL` (30 days). */
  sessionTtl?: number
  /** Least seconds a logout is remembered for sessions registered after it. Default `DEFAULT_RETENTION` (30 days). */
  retention?: number
  /** Seconds finished relay deliveries are kept: delivered 7 days, dead 30 days by default. */
  relayRetention?: OutboxRetention
}

interface StoredSession {
  record: SessionRecord
  /** The session's effective expiry: its `expiresAt`, or registration + `sessionTtl`. */
  until: number
}

interface Marker {
  /** When the latest logout was processed. */
  revokedAt: number
  /** The latest logout's `iat` (watermarks: sessions authenticated at or before it are covered). */
  issuedAt: number
  until: number
  /**
   * Watermarks of bounded revocations only (`RevocationTarget.bounded`): sessions registered by
   * `revokedAt` are covered only through `issuedAt`, not by having been registered before it.
   */
  bounded?: true
}

type Markers = { tombstone?: Marker; watermark?: Marker }

type IssuerKeys = ReturnType<typeof keys.of>

const sidsOf = (records: Iterable<SessionRecord>) => [...records].flatMap((r) => (r.sid === undefined ? [] : [r.sid]))

/** The session registry and revoker over a backend. */
export function createSessionStore(backend: StoreBackend, options: SessionOptions = {}): SessionStore {
  const { storage } = backend
  const now = options.now ?? (() => Date.now() / 1000)
  const sessionTtl = options.sessionTtl ?? DEFAULT_SESSION_TTL
  const retention = options.retention ?? DEFAULT_RETENTION
  const relayRetention = outboxRetention(options.relayRetention)

  const live = <T extends { until: number }>(value: T | null | undefined, t: number) =>
    value && value.until > t ? value : undefined

  /** Live markers by key: those in `known` as they are, the others read in one round trip. */
  async function readMarkers(wanted: string[], t: number, known?: Map<string, Marker | undefined>) {
    const result = new Map(known)
    const missing = [...new Set(wanted)].filter((key) => !result.has(key))
    if (missing.length > 0) {
      for (const [i, value] of (await backend.getMany(missing)).entries()) {
        result.set(missing[i] as string, live(value as Marker | null, t))
      }
    }
    return result
  }

  /** Every live marker of these subjects and sids (read once; `known` ones are not read again). */
  async function markerTable(
    k: IssuerKeys,
    subs: Iterable<string>,
    sids: Iterable<string>,
    t: number,
    known?: Map<string, Marker | undefined>,
  ) {
    const markers = await readMarkers([...[...subs].map(k.watermark), ...[...sids].map(k.tombstone)], t, known)
    const watermark = (sub: string) => markers.get(k.watermark(sub))
    return {
      watermark,
      of: (r: SessionRecord): Markers => ({
        watermark: watermark(r.sub),
        tombstone: r.sid === undefined ? undefined : markers.get(k.tombstone(r.sid)),
      }),
    }
  }

  async function markersOf(record: SessionRecord, t: number): Promise<Markers> {
    const k = keys.of(record.app, record.iss)
    const table = await markerTable(k, [record.sub], record.sid === undefined ? [] : [record.sid], t)
    return table.of(record)
  }

  /** When the session was ended, by itself or by a logout that covers it; `undefined` while active. */
  function revokedAt(record: SessionRecord, { tombstone, watermark }: Markers): number | undefined {
    const times = [record.revokedAt, tombstone?.revokedAt]
    const registeredBefore =
      !watermark?.bounded && record.createdAt <= (watermark?.revokedAt ?? Number.NEGATIVE_INFINITY)
    if (watermark && (registeredBefore || record.authTime <= watermark.issuedAt)) {
      times.push(watermark.revokedAt)
    }
    const known = times.filter((x): x is number => x !== undefined)
    return known.length ? Math.min(...known) : undefined
  }

  /**
   * The live sessions an index set names, by member (the hashed id that ends the session's key),
   * read with their records — and the live markers at `markerKeys` — in one call; members whose
   * session is gone are removed.
   */
  async function indexed(
    set: string,
    app: string,
    match: (r: SessionRecord) => boolean,
    t: number,
    markerKeys: string[] = [],
  ) {
    const read = await backend.readIndex(set, keys.sessionPrefix(app), markerKeys)
    const records = new Map<string, SessionRecord>()
    const stale: string[] = []
    for (const { member, value } of read.members) {
      const record = live(value as StoredSession | null, t)?.record
      if (record && match(record)) records.set(member, record)
      else stale.push(member)
    }
    if (stale.length > 0) await backend.removeMembers(set, stale)
    const markers = new Map(markerKeys.map((key, i) => [key, live(read.also[i] as Marker | null, t)]))
    return { records, markers }
  }

  /**
   * What a logout writes — one marker per sid and per subject, and the records a sid logout ends
   * stamped with it — and how many active sessions that ends; read, not yet written.
   */
  async function revocation(target: RevocationTarget) {
    const t = now()
    const { app, iss, sid } = target
    const k = keys.of(app, iss)
    // By member: the hashed session id that ends the record's key.
    const covered = new Map<string, SessionRecord>()
    const subs = new Set<string>()
    // The markers the token names are read with the first index: usually all there is to read.
    const namedKeys = [
      ...(sid === undefined ? [] : [k.tombstone(sid)]),
      ...(target.sub === undefined ? [] : [k.watermark(target.sub)]),
    ]
    let named: Map<string, Marker | undefined> | undefined
    const cover = async (set: string, match: (r: SessionRecord) => boolean) => {
      const { records, markers } = await indexed(set, app, match, t, named ? [] : namedKeys)
      named ??= markers
      for (const [member, r] of records) covered.set(member, r)
    }
    if (sid !== undefined) await cover(k.sidIndex(sid), (r) => r.iss === iss && r.sid === sid)
    if (isSubjectWide(target)) {
      if (target.sub !== undefined) subs.add(target.sub)
      for (const r of covered.values()) subs.add(r.sub)
    }
    for (const sub of subs) await cover(k.subIndex(sub), (r) => r.iss === iss && r.sub === sub)

    // Count what this logout ends: sessions not already ended by themselves or an earlier logout.
    // An earlier sid logout stamped the records it ended, so only this token's sid tombstone and
    // the subjects' watermarks are needed to count — not one tombstone per session.
    const records = [...covered.values()]
    const before = await markerTable(
      k,
      [...subs, ...records.map((r) => r.sub)],
      sid === undefined ? [] : [sid],
      t,
      named,
    )
    let revoked = 0
    // Markers outlive every session they cover, so none comes back to life when one expires.
    let until = t + retention
    const ended: [member: string, record: SessionRecord][] = []
    for (const [member, r] of covered) {
      // A bounded revocation leaves alone the sessions that began after it.
      const spared = target.bounded === true && (sid === undefined || r.sid !== sid) && r.authTime > target.issuedAt
      if (!spared && revokedAt(r, before.of(r)) === undefined) {
        revoked++
        if (r.sid === sid) ended.push([member, r])
      }
      until = Math.max(until, (r.expiresAt ?? r.createdAt + sessionTtl) + 1)
    }

    // The revocation itself, to be written together: one marker per sid and per subject, and the
    // records a sid logout ends stamped with it.
    const writes: RecordWrite[] = []
    for (const [member, r] of ended) {
      const sessionUntil = r.expiresAt ?? r.createdAt + sessionTtl
      // Object.assign, not `{ ...r, revokedAt: t }`: see `register`.
      const value: StoredSession = { record: Object.assign({}, r, { revokedAt: t }), until: sessionUntil }
      writes.push({ key: keys.sessionPrefix(app) + member, value, expiresAt: sessionUntil })
    }
    if (sid !== undefined) {
      const value: Marker = { revokedAt: t, issuedAt: target.issuedAt, until }
      writes.push({ key: k.tombstone(sid), value, expiresAt: until })
    }
    for (const sub of subs) {
      const previous = before.watermark(sub)
      // A bounded revocation keeps an earlier unbounded one's reach (what was registered by then).
      const keepsEarlier = target.bounded === true && previous !== undefined && !previous.bounded
      const value: Marker = {
        revokedAt: keepsEarlier ? previous.revokedAt : t,
        issuedAt: Math.max(target.issuedAt, previous?.issuedAt ?? target.issuedAt),
        until: Math.max(until, previous?.until ?? 0),
      }
      if (target.bounded === true && !keepsEarlier) value.bounded = true
      writes.push({ key: k.watermark(sub), value, expiresAt: value.until })
    }
    // The relay deliveries go in the same write, named in the outbox's index first (outbox.ts).
    const deliveries = deliveriesOf(target, t)
    if (deliveries.length > 0) await announceDeliveries(backend, deliveries, t, relayRetention)
    return { writes, rows: deliveryWrites(deliveries, t, relayRetention), revoked, t }
  }

  const store: SessionStore = {
    relayOutbox: true,

    async register(input: SessionInput) {
      const t = now()
      // Object.assign, not `{ ...input, authTime, createdAt }`: the spread form costs more per login.
      const record: SessionRecord = Object.assign({}, input, { authTime: input.authTime ?? t, createdAt: t })
      const { app, iss, sub, sid, sessionId, email } = record
      const until = input.expiresAt ?? t + sessionTtl
      // Born revoked when a logout already covers it: kept in the record, so it outlives the marker.
      const bornRevoked = revokedAt(record, await markersOf(record, t))
      if (bornRevoked !== undefined) record.revokedAt = bornRevoked
      const stored: StoredSession = { record, until }
      const member = keys.sessionMember(sessionId)
      const k = keys.of(app, iss)
      await Promise.all([
        storage.setItem(keys.sessionPrefix(app) + member, stored, { ttl: ttlSeconds(until, t) }),
        backend.addMember(k.subIndex(sub), member, until),
        sid === undefined ? undefined : backend.addMember(k.sidIndex(sid), member, until),
        email === undefined ? undefined : backend.addMember(keys.emailIndex(app, normalizeEmail(email)), member, until),
      ])
      return { ...record }
    },

    async status(app, sessionId): Promise<SessionState> {
      const t = now()
      const stored = live(await storage.getItem<StoredSession>(keys.session(app, sessionId)), t)
      if (!stored) return { state: 'unknown' }
      const { record } = stored
      const at = record.revokedAt ?? revokedAt(record, await markersOf(record, t))
      return at === undefined ? { state: 'active' } : { state: 'revoked', revokedAt: at }
    },

    async list(app, iss, sub) {
      const t = now()
      const k = keys.of(app, iss)
      const { records } = await indexed(k.subIndex(sub), app, (r) => r.iss === iss && r.sub === sub, t)
      const markers = await markerTable(k, [sub], sidsOf(records.values()), t)
      return [...records.values()]
        .map((r) => {
          const at = revokedAt(r, markers.of(r))
          return at === undefined ? r : { ...r, revokedAt: at }
        })
        .sort((a, b) => a.createdAt - b.createdAt)
    },

    async listByEmail(app, email) {
      const t = now()
      const normalized = normalizeEmail(email)
      const { records } = await indexed(
        keys.emailIndex(app, normalized),
        app,
        (r) => r.email !== undefined && normalizeEmail(r.email) === normalized,
        t,
      )
      // Markers are kept per issuer: read each issuer's in one round trip.
      const byIssuer = new Map<string, SessionRecord[]>()
      for (const r of records.values()) byIssuer.set(r.iss, [...(byIssuer.get(r.iss) ?? []), r])
      const listed = await Promise.all(
        [...byIssuer].map(async ([iss, rs]) => {
          const markers = await markerTable(keys.of(app, iss), new Set(rs.map((r) => r.sub)), sidsOf(rs), t)
          return rs.map((r) => {
            const at = revokedAt(r, markers.of(r))
            return at === undefined ? r : { ...r, revokedAt: at }
          })
        }),
      )
      return listed.flat().sort((a, b) => a.createdAt - b.createdAt)
    },

    async end(app, sessionId) {
      const t = now()
      const key = keys.session(app, sessionId)
      const stored = live(await storage.getItem<StoredSession>(key), t)
      if (!stored) return { ended: false }
      const { record } = stored
      if (revokedAt(record, await markersOf(record, t)) !== undefined) {
        return { ended: false }
      }
      record.revokedAt = t
      await storage.setItem(key, stored, { ttl: ttlSeconds(stored.until, t) })
      return { ended: true }
    },

    async recorded(target: RevocationTarget) {
      // What `revoke` writes for this target, in one write: the sid's tombstone (it ends the sid
      // whatever its time) and, subject-wide, the subject's watermark at or after this `iat`.
      const { sub, sid, issuedAt } = target
      const k = keys.of(target.app, target.iss)
      const tombstone = sid === undefined ? undefined : k.tombstone(sid)
      const watermark = sub !== undefined && isSubjectWide(target) ? k.watermark(sub) : undefined
      const markers = await readMarkers(
        [tombstone, watermark].filter((k) => k !== undefined),
        now(),
      )
      return (
        (tombstone === undefined || markers.get(tombstone) !== undefined) &&
        (watermark === undefined || (markers.get(watermark)?.issuedAt ?? Number.NEGATIVE_INFINITY) >= issuedAt)
      )
    },

    async revoke(target: RevocationTarget) {
      const { writes, rows, revoked, t } = await revocation(target)
      if (backend.claimAndSetMany) {
        // A backend that writes atomically (it has claimAndSetMany) stores rows and markers at once.
        await backend.setMany([...rows, ...writes], t)
      } else {
        // Elsewhere the rows are stored first: a marker that says the logout is recorded (so a
        // retried token is answered 200 as a replay) then implies its rows exist.
        if (rows.length > 0) await backend.setMany(rows, t)
        await backend.setMany(writes, t)
      }
      return { revoked }
    },
  }
  const { claimAndSetMany } = backend
  if (!claimAndSetMany) return store
  return {
    ...store,
    async claimAndRevoke(key, expiresAt, target) {
      const { writes, rows, revoked, t } = await revocation(target)
      const claimed = await claimAndSetMany.call(backend, { key: keys.claim(key), expiresAt }, [...rows, ...writes], t)
      return claimed ? { claimed: true, revoked } : { claimed: false }
    },
  }
}
