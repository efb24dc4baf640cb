/**
 * The contracts between the logout flow and wherever sessions live. Implement
 * {@link SessionRevoker} to end sessions in your own store; implement {@link SessionRegistry} as
 * well to let `@backchannel/core/testing` prove it.
 * @module
 */
import type { LogoutScope, Relay } from './app.js'
import { RelaysUnsupported } from './errors.js'
import type { ReplayStore } from './replay.js'

/**
 * What one accepted logout asks to end. Every id is scoped by (`app`, `iss`): `sid` and `sub`
 * are unique only within one issuer.
 * @see https://openid.net/specs/openid-connect-backchannel-1_0.html#Validation BCL §2.6
 */
export interface RevocationTarget {
  /** The application name. */
  app: string
  /** The issuer the sessions belong to (see `sessionIssuer`). */
  iss: string
  /** The user: with no `sid`, every session of this user ends. */
  sub?: string
  /** The IdP session: the sessions registered under it end. */
  sid?: string
  /** `"user"`: a `sid` logout also ends every other session of the same user. */
  scope: LogoutScope
  /** When the logout happened, seconds since epoch: the token's `iat`, or the time it was accepted. */
  issuedAt: number
  /** The token's `jti`, when it has one (for audit; replay is already settled). */
  jti?: string
  /**
   * `true`: only sessions that began (`authTime`) at or before `issuedAt` end, now or when
   * registered later (a Shared Signals event, bounded by its `event_timestamp`). Default: every
   * session registered until now ends too, as a logout means. A revoker that ignores it ends more.
   */
  bounded?: boolean
  /**
   * The application's relays, when it has any: a revoker with `relayOutbox` writes one delivery
   * per relay in the same write as the revocation (see {@link SessionRevoker.relayOutbox}).
   */
  relay?: RelayRequest
}

/** What a revocation relays: to which relays, and for `forward` the identity provider's token. */
export interface RelayRequest {
  relays: readonly Relay[]
  /** The logout token as the identity provider sent it, byte for byte (`forward` relays only). */
  token?: string
  /** The token's `exp`, seconds since epoch: a `forward` delivery gives up once it has passed. */
  expiresAt?: number
}

/**
 * What a revocation of `app` relays, for `revoker` to store in the revocation's own write: with the
 * identity provider's token to `forward`, every relay; without one (an admin revocation, a Shared
 * Signals event), only the `sign` and `hmac` relays. `undefined` when there is nothing to relay.
 *
 * @example
 * ```ts
 * target.relay = relayRequest(app, revoker, { token: logoutToken, expiresAt: claims.exp })
 * ```
 * @throws {RelaysUnsupported} before anything is written, when the revoker cannot store deliveries:
 * a logout is never acknowledged with its relays lost.
 */
export function relayRequest(
  app: { name: string; relays?: readonly Relay[] },
  revoker: Pick<SessionRevoker, 'relayOutbox'>,
  forward?: { token: string; expiresAt?: number },
): RelayRequest | undefined {
  const relays = forward ? (app.relays ?? []) : (app.relays ?? []).filter((relay) => relay.mode !== 'forward')
  if (relays.length === 0) return undefined
  if (!revoker.relayOutbox) {
    throw new RelaysUnsupported(
      `application ${JSON.stringify(app.name)} has relays, but its revoker cannot store their deliveries: relays need the gateway's store or a RelayOutboxRevoker`,
    )
  }
  return forward && relays.some((relay) => relay.mode === 'forward') ? { relays, ...forward } : { relays }
}

/**
 * Seconds during which a `sid` logout relayed once is not relayed again for the same (app, `iss`,
 * `sid`), whichever way it is reported again (a back-channel logout token or a Shared Signals
 * event): 10 minutes.
 */
export const RELAY_ONCE_SECONDS = 600

/**
 * Relays one IdP session's logout once, when it is reported both as a logout token and as a
 * Shared Signals event: claims (`app`, `iss`, `sid`) for {@link RELAY_ONCE_SECONDS} in `claims`
 * (the replay store, shared by both flows) and, when another report already holds the claim,
 * removes `target.relay`: the revocation still runs and is audited, only its fan-out is dropped.
 * A target without relays or without `sid` is left as it is.
 *
 * @param now seconds since epoch.
 * @returns gives the claim back: call it when the revocation is not written (it failed, or was a
 * replay), so that the report that does get written relays.
 * @example
 * ```ts
 * const release = await relayOnce(target, replayStore, now)
 * try { await revoker.revoke(target) } catch (err) { await release(); throw err }
 * ```
 */
export async function relayOnce(
  target: RevocationTarget,
  claims: Pick<ReplayStore, 'claim' | 'release'>,
  now: number,
): Promise<() => Promise<void>> {
  const { app, iss, sid } = target
  if (!target.relay || sid === undefined) return async () => {}
  const key = `relay-once\n${app.length}:${app}|${iss.length}:${iss}|${sid}`
  if (await claims.claim(key, now + RELAY_ONCE_SECONDS)) return () => claims.release(key)
  delete target.relay
  return async () => {}
}

/**
 * How an email address is compared, in every store and for Shared Signals `email` subjects: the
 * whole address lower-cased, nothing else removed or rewritten. RFC 5321 §2.4 lets a mailbox's
 * local part be case-sensitive, but mail providers and identity providers treat it as
 * case-insensitive, so `Alice@Example.com` and `alice@example.com` are one user; dots and `+tags`
 * are kept, as their meaning differs from one mail provider to the next.
 *
 * @example
 * ```ts
 * normalizeEmail('Alice.Smith+news@Example.COM') // 'alice.smith+news@example.com'
 * ```
 */
export function normalizeEmail(email: string): string {
  return email.toLowerCase()
}

/**
 * Whether a logout ends every session of its user rather than only those of one IdP session: it
 * names no `sid`, or its scope is `"user"` (then it also ends every session of each user the
 * `sid`'s sessions belong to). A revoker records such a logout per user, so that a session of the
 * user registered later with an `authTime` at or before `issuedAt` is born revoked.
 *
 * @example
 * ```ts
 * const subs = new Set<string>()
 * if (isSubjectWide(target) && target.sub !== undefined) subs.add(target.sub)
 * ```
 */
export function isSubjectWide(target: Pick<RevocationTarget, 'sid' | 'scope'>): boolean {
  return target.sid === undefined || target.scope === 'user'
}

/**
 * Ends sessions. Called once per accepted logout token (a replayed `jti` never reaches it, unless
 * {@link SessionRevoker.recorded} says the first attempt's revocation was never written).
 *
 * Must be all-or-nothing: either every session it reports is ended and the logout is recorded
 * (so that a session registered later for the same `sid`, or with an `authTime` at or before
 * `issuedAt` for a subject-wide logout, is born revoked), or it throws.
 *
 * @example
 * ```ts
 * const revoker = defineRevoker({
 *   async revoke({ app, iss, sub, sid }) {
 *     const { rowCount } = await db.query('DELETE FROM sessions WHERE …', [app, iss, sub, sid])
 *     return { revoked: rowCount }
 *   },
 * })
 * ```
 */
export interface SessionRevoker {
  /**
   * @returns how many active sessions this call ended (0 for an unknown session: still a success).
   * @throws {StoreUnavailable} when the store cannot be reached; nothing may be half done.
   */
  revoke(target: RevocationTarget): Promise<{ revoked: number }>
  /**
   * Optional. Whether a logout covering `target` is already recorded: for a `sid`, its tombstone;
   * for a subject-wide logout, a watermark at or after `target.issuedAt`. The flow asks only when
   * a token's `jti` is already claimed: if the logout is still not recorded after a short wait (for
   * an attempt revoking it right now), the attempt that claimed it died between the claim and the
   * revocation, and the token is processed now instead of being acknowledged as a replay. Without
   * it, a claimed `jti` is always answered as a replay.
   */
  recorded?(target: RevocationTarget): Promise<boolean>
  /**
   * Optional, for a store that is also the flow's {@link ReplayStore}: claims `key` until
   * `expiresAt` exactly as `claim` does, and revokes `target` in the same write — one round trip
   * where `claim` then `revoke` take two. When the key is already held it writes nothing and
   * answers `{ claimed: false }`. When it throws, the claim is not kept, so the identity
   * provider's retry is processed. The flow uses it only when its revoker and its replay store are
   * the same object.
   */
  claimAndRevoke?(key: string, expiresAt: number, target: RevocationTarget): Promise<ClaimedRevocation>
  /**
   * Optional. `true` when `revoke` and `claimAndRevoke` write one relay delivery per
   * `target.relay.relays` entry in the same write as the revocation (the gateway's stores do; a
   * custom revoker does as a `RelayOutboxRevoker`, whose `outbox` the gateway drains). The
   * flow refuses to process a logout for an application with relays on a revoker without it,
   * rather than acknowledge a logout whose relays it could not store.
   */
  readonly relayOutbox?: boolean
}

/** What {@link SessionRevoker.claimAndRevoke} answers. */
export type ClaimedRevocation = { claimed: true; revoked: number } | { claimed: false }

/**
 * Seconds a session registered without `expiresAt` lives, in every store: 30 days.
 *
 * @example
 * ```ts
 * import { DEFAULT_SESSION_TTL } from '@backchannel/core'
 * import { createMemoryStore } from '@backchannel/core/testing'
 * const store = createMemoryStore({ sessionTtl: DEFAULT_SESSION_TTL / 30 }) // one day
 * ```
 */
export const DEFAULT_SESSION_TTL = 30 * 86400

/**
 * Least seconds a logout is remembered, in every store, so that a session registered after it
 * (a late `sid`, or an `authTime` at or before a subject-wide logout's `issuedAt`) is born
 * revoked: 30 days. It matches {@link DEFAULT_SESSION_TTL} because a logout must outlive the
 * sessions it could affect; a store also keeps a logout until the sessions it ended expire.
 *
 * @example
 * ```ts
 * import { DEFAULT_RETENTION } from '@backchannel/core'
 * import { createMemoryStore } from '@backchannel/core/testing'
 * const store = createMemoryStore({ retention: 2 * DEFAULT_RETENTION })
 * ```
 */
export const DEFAULT_RETENTION = DEFAULT_SESSION_TTL

/** A login as an application registers it. */
export interface SessionInput {
  app: string
  /** The issuer the login came from (see `sessionIssuer`). */
  iss: string
  /** The application's own id for this session; unique within the app. */
  sessionId: string
  /** The user's id at the issuer. */
  sub: string
  /** The IdP session id (`sid` claim of the ID token), when known. */
  sid?: string
  /**
   * The user's email address, when known: a Shared Signals event whose subject is this `email`
   * ends the session (compared as {@link normalizeEmail} says; kept as given).
   */
  email?: string
  /** When the user authenticated, seconds since epoch. Defaults to the time of registration. */
  authTime?: number
  /** When the session ends by itself, seconds since epoch. */
  expiresAt?: number
}

/** A registered session and its state. */
export interface SessionRecord extends SessionInput {
  authTime: number
  /** Seconds since epoch the session was registered. */
  createdAt: number
  /** Seconds since epoch it was revoked or ended, when it was. */
  revokedAt?: number
}

/** The answer to "may this session still be used?". */
export type SessionState = { state: 'active' } | { state: 'revoked'; revokedAt: number } | { state: 'unknown' }

/** The session registry an application registers logins with and asks for a session's state. */
export interface SessionRegistry {
  /** Registers a login; it is born revoked if a logout already covers it. */
  register(session: SessionInput): Promise<SessionRecord>
  /** The state of one session; `unknown` once it expired or was never registered. */
  status(app: string, sessionId: string): Promise<SessionState>
  /** Every live session of a user, active or revoked, oldest first. */
  list(app: string, iss: string, sub: string): Promise<SessionRecord[]>
  /** Ends one session locally (the user logged out of the application only). */
  end(app: string, sessionId: string): Promise<{ ended: boolean }>
  /**
   * Optional. Every live session of `app` registered with `email` (as {@link normalizeEmail}
   * compares it), active or revoked, oldest first, whatever its issuer; its cost grows with that
   * user's sessions only. Without it, Shared Signals `email` subjects match nothing.
   */
  listByEmail?(app: string, email: string): Promise<SessionRecord[]>
}

/** A store that both keeps sessions and ends them: what the gateway runs on. */
export interface SessionStore extends SessionRegistry, SessionRevoker {}

/**
 * Types a revoker without changing it: `defineRevoker({ revoke })` checks the shape and keeps
 * your own extra methods visible.
 */
export function defineRevoker<T extends SessionRevoker>(revoker: T): T {
  return revoker
}
