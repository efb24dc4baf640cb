/**
 * Where a Security Event Token pushed to a stream is verified: the header, the signature with the
 * stream's pinned algorithm and the transmitter's keys, then the SET's claims.
 * @see https://www.rfc-editor.org/rfc/rfc8417 RFC 8417 (SET)
 * @see https://openid.net/specs/openid-sharedsignals-framework-1_0.html SSF 1.0 §3, §10.3
 * @module
 */
import type { JWSHeaderParameters } from 'jose'
import { isObject } from './_internal/json-payload.js'
import type { AsymmetricAlgorithm } from './app.js'
import { SetAudience, SetClaim, SetIssuer, SetKey, SetMalformed, SetSignature, SetTyp } from './errors.js'
import type { KeyResolver } from './keys.js'
import { type TokenProfile, verifyJws } from './verify.js'

/** A stream the gateway receives Security Event Tokens on, as core needs it. */
export interface StreamConfig {
  /** The stream's name, the `:stream` of `/ssf/:stream`. */
  name: string
  /** The transmitter's issuer: every SET's `iss`. */
  issuer: string
  /** What every SET's `aud` must contain (by default the gateway's public URL). */
  audience: string
  /** Where the transmitter publishes its signing keys (from its `/.well-known/ssf-configuration`). */
  jwksUri: string
  /** The one accepted `alg`. Default `RS256`. */
  algorithm?: AsymmetricAlgorithm
  /** The applications whose sessions the stream's events end. */
  apps: readonly string[]
  /** SHA-256 (hex) of the bearer token the transmitter sends in `Authorization`. */
  authorizationHash: string
  /** `true`: CAEP `credential-change` ends every session of its user. Default `false`: it is ignored. */
  revokeOnCredentialChange?: boolean
}

/** The verified content of a Security Event Token. */
export interface SecurityEvent {
  iss: string
  jti: string
  /** Issued at, seconds since epoch. */
  iat: number
  /** The one event's type URI, e.g. `https://schemas.openid.net/secevent/caep/event-type/session-revoked`. */
  type: string
  /** The event's own members (its `subject`, `event_timestamp`, …), unchecked beyond being an object. */
  event: Record<string, unknown>
  /** The subject: the SET's `sub_id` (SSF 1.0 §3.1), else the event's `subject`; `undefined` when neither is an object. */
  subject?: Record<string, unknown>
  /** The event's `event_timestamp`, seconds since epoch, when it has a valid one. */
  eventTimestamp?: number
}

/** Verifies Security Event Tokens for any stream. */
export interface SetVerifier {
  /**
   * Verifies `token` for `stream`.
   * @param now seconds since epoch (for the `iat` bound).
   * @throws {SetInvalid} a subclass naming the rule that failed, with its RFC 8935 `err`.
   * @throws {KeysUnavailable} the transmitter's keys cannot be loaded (answer 503).
   */
  verify(token: string, stream: StreamConfig, now: number): Promise<SecurityEvent>
}

/**
 * Seconds a SET's `jti` is remembered: 7 days, as transmitters retry for hours. A SET issued
 * longer ago is refused: past its `jti`'s memory, a redelivery would run (and relay) again.
 */
export const SET_REPLAY_SECONDS = 7 * 86400

/** Seconds an `iat` may lie ahead of the gateway's clock. */
const CLOCK_TOLERANCE = 60

/** The SET's profile of the verification pipeline: every refusal an RFC 8935 `err`. */
const SET: TokenProfile = {
  what: 'the SET',
  typ: { accepted: new Set(['secevent+jwt', 'application/secevent+jwt']), required: true },
  typRule: 'the typ header must be secevent+jwt',
  keySource: 'the jwks_uri',
  Malformed: SetMalformed,
  Typ: SetTyp,
  Header: SetKey,
  Signature: SetSignature,
  Alg: SetKey,
  Key: SetKey,
}

/**
 * Builds the verifier over a key resolver (share the one the logout verifier uses: a transmitter
 * that is also an OIDC issuer then has one cached key set and one refetch cooldown).
 *
 * @example
 * ```ts
 * import { createKeyResolver, createSetVerifier } from '@backchannel/core'
 * const verifier = createSetVerifier({ keys: createKeyResolver() })
 * const event = await verifier.verify(setToken, stream, Date.now() / 1000)
 * event.type // 'https://schemas.openid.net/secevent/caep/event-type/session-revoked'
 * ```
 */
export function createSetVerifier(options: { keys: KeyResolver }): SetVerifier {
  return {
    async verify(token, stream, now) {
      const keysOf = (header: JWSHeaderParameters) => options.keys.getKeys(stream.jwksUri, header)
      const claims = await verifyJws(token, [stream.algorithm ?? 'RS256'], keysOf, SET)
      return checkClaims(claims, stream, now)
    },
  }
}

function checkClaims(claims: Record<string, unknown>, stream: StreamConfig, now: number): SecurityEvent {
  if (claims.iss !== stream.issuer) {
    throw new SetIssuer(claims.iss === undefined ? 'iss is missing' : "iss is not the stream's issuer")
  }
  const { aud } = claims
  const audiences = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : []
  if (!audiences.includes(stream.audience)) throw new SetAudience("aud does not contain the stream's audience")

  const { iat, jti, events } = claims
  if (typeof iat !== 'number' || !Number.isFinite(iat) || iat < 0) {
    throw new SetClaim('iat', 'iat is required, as seconds since epoch')
  }
  if (iat > now + CLOCK_TOLERANCE) throw new SetClaim('iat', 'iat is in the future')
  if (iat < now - SET_REPLAY_SECONDS) {
    throw new SetClaim('iat', `iat is older than ${SET_REPLAY_SECONDS / 86400} days, the longest a jti is remembered`)
  }
  if (typeof jti !== 'string' || jti.length === 0) throw new SetClaim('jti', 'jti is required')
  // RFC 8417 §2.2: the subject is in the event or sub_id; a top-level sub would be a JWT's subject.
  if (claims.sub !== undefined) throw new SetClaim('sub', 'a SET must not have a top-level sub (use sub_id)')
  // RFC 8417 §2.2: a SET does not expire; one with exp is some other token.
  if (claims.exp !== undefined) throw new SetClaim('exp', 'a SET must not have exp')
  if (!isObject(events)) throw new SetClaim('events', 'events must be a JSON object')
  const entries = Object.entries(events)
  const [only] = entries
  if (entries.length !== 1 || !only) throw new SetClaim('events', 'events must hold exactly one event')
  const [type, event] = only
  if (!isObject(event)) throw new SetClaim('events', 'the event must be a JSON object')

  if (claims.sub_id !== undefined && !isObject(claims.sub_id)) {
    throw new SetClaim('sub_id', 'sub_id must be a JSON object (a subject identifier)')
  }
  const subject = isObject(claims.sub_id) ? claims.sub_id : isObject(event.subject) ? event.subject : undefined
  const timestamp = event.event_timestamp
  const result: SecurityEvent = { iss: stream.issuer, jti, iat, type, event }
  if (subject) result.subject = subject
  if (typeof timestamp === 'number' && Number.isFinite(timestamp) && timestamp >= 0) {
    result.eventTimestamp = timestamp
  }
  return result
}
