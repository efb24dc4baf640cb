/**
 * The claim rules of a logout token, once its signature is verified: the OIDC profile
 * (BCL §2.4, §2.6 with errata 2023) and the HMAC profile of non-OIDC applications.
 * @see https://openid.net/specs/openid-connect-backchannel-1_0.html#LogoutToken BCL §2.4
 * @module
 */
import { type AppConfig, type ResolvedPolicy, sessionIssuer } from './app.js'
import {
  LogoutTokenAudience,
  LogoutTokenClaim,
  LogoutTokenExpired,
  LogoutTokenIat,
  LogoutTokenIssuer,
} from './errors.js'

/** The back-channel logout event member of `events` (BCL §2.4). */
export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout'

/** The verified claims of a logout token. */
export interface LogoutToken {
  /** The issuer the application's sessions are kept under (see `sessionIssuer`). */
  iss: string
  /** The user whose sessions end. */
  sub?: string
  /** The IdP session that ended. */
  sid?: string
  /** The token id; guards against replay. */
  jti?: string
  /** Issued at, seconds since epoch. */
  iat?: number
  /** Expires at, seconds since epoch. */
  exp?: number
  /** Seconds since epoch after which this token would no longer be accepted: how long its `jti` must be remembered. */
  acceptedUntil: number
}

type Claims = Record<string, unknown>

/** Checks the claims of a signature-verified payload against the app; throws a `LogoutTokenInvalid`. */
export function checkClaims(claims: Claims, app: AppConfig, policy: ResolvedPolicy, now: number): LogoutToken {
  const oidc = app.kind === 'oidc'
  const expectedIssuer = oidc ? app.issuer : policy.issuer
  const expectedAudience = oidc ? app.clientId : policy.audience

  if (expectedIssuer !== undefined && claims.iss !== expectedIssuer) {
    throw new LogoutTokenIssuer(claims.iss === undefined ? 'iss is missing' : "iss is not this application's issuer")
  }
  if (expectedAudience !== undefined) checkAudience(claims, expectedAudience)

  const iat = optionalTime(claims, 'iat')
  const exp = optionalTime(claims, 'exp')
  const { clockTolerance: tolerance, maxTokenAge } = policy
  if (oidc) {
    if (iat === undefined) throw new LogoutTokenClaim('iat', 'iat is required')
    if (exp === undefined && !policy.allowMissingExp) {
      throw new LogoutTokenClaim('exp', 'exp is required (enable allowMissingExp for providers that omit it)')
    }
  } else if (iat === undefined && exp === undefined) {
    throw new LogoutTokenClaim('iat/exp', 'at least one of iat and exp is required, or the token would never expire')
  }
  if (iat !== undefined) {
    if (iat > now + tolerance) throw new LogoutTokenIat('iat is in the future')
    if (now - iat > maxTokenAge + tolerance) {
      throw new LogoutTokenExpired(`the token is older than the maximum age of ${maxTokenAge} s`)
    }
  }
  if (exp !== undefined) {
    if (exp <= now - tolerance) throw new LogoutTokenExpired('the token has expired (exp)')
    if (iat === undefined && exp - now > maxTokenAge + tolerance) {
      throw new LogoutTokenClaim('exp', `exp lies more than the maximum age of ${maxTokenAge} s ahead`)
    }
  }
  const nbf = optionalTime(claims, 'nbf')
  if (nbf !== undefined && nbf > now + tolerance) throw new LogoutTokenClaim('nbf', 'the token is not valid yet (nbf)')

  const jti = optionalString(claims, 'jti')
  if (oidc && jti === undefined) throw new LogoutTokenClaim('jti', 'jti is required')
  if (oidc || claims.events !== undefined) checkEvents(claims.events)

  const sub = optionalString(claims, 'sub')
  const sid = optionalString(claims, 'sid')
  if (sub === undefined && sid === undefined)
    throw new LogoutTokenClaim('sub/sid', 'at least one of sub and sid is required')
  if (claims.nonce !== undefined) throw new LogoutTokenClaim('nonce', 'nonce must not be present in a logout token')

  // How long the jti must be remembered: until the token could no longer be accepted, which the
  // maximum age bounds too, so a far-off exp never makes a claim outlive what matters.
  const ageLimit = iat === undefined ? Number.POSITIVE_INFINITY : iat + maxTokenAge
  const acceptedUntil = Math.min(exp ?? ageLimit, ageLimit) + tolerance
  return strip({ iss: sessionIssuer(app), sub, sid, jti, iat, exp, acceptedUntil })
}

function checkAudience(claims: Claims, expected: string): void {
  const { aud, azp } = claims
  if (typeof aud === 'string') {
    if (aud !== expected) throw new LogoutTokenAudience('aud is not this application')
    return
  }
  if (!Array.isArray(aud) || aud.length === 0 || !aud.every((a) => typeof a === 'string')) {
    throw new LogoutTokenAudience('aud must be a string or a non-empty array of strings')
  }
  if (!aud.includes(expected)) throw new LogoutTokenAudience('aud does not include this application')
  // OIDC Core §3.1.3.7: other audiences are trusted only when azp names this client.
  if (aud.length > 1 && azp !== expected) {
    throw new LogoutTokenAudience('aud names other audiences and azp is not this application')
  }
}

function checkEvents(events: unknown): void {
  if (typeof events !== 'object' || events === null || Array.isArray(events)) {
    throw new LogoutTokenClaim('events', 'events must be a JSON object')
  }
  const event = (events as Claims)[BACKCHANNEL_LOGOUT_EVENT]
  if (typeof event !== 'object' || event === null || Array.isArray(event)) {
    throw new LogoutTokenClaim('events', `events must hold ${BACKCHANNEL_LOGOUT_EVENT} with a JSON object value`)
  }
}

/** 9999-12-31T23:59:59Z: a time claim beyond it is no NumericDate an issuer means (`exp: 1e308`). */
const LATEST_TIME = 253_402_300_799

function optionalTime(claims: Claims, name: string): number | undefined {
  const value = claims[name]
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > LATEST_TIME) {
    throw new LogoutTokenClaim(name, `${name} must be a number of seconds since epoch, before the year 10000`)
  }
  return value
}

function optionalString(claims: Claims, name: string): string | undefined {
  const value = claims[name]
  if (value === undefined) return undefined
  if (typeof value !== 'string' || value.length === 0) {
    throw new LogoutTokenClaim(name, `${name} must be a non-empty string`)
  }
  return value
}

function strip<T extends object>(value: T): T {
  for (const key of Object.keys(value) as (keyof T)[]) if (value[key] === undefined) delete value[key]
  return value
}
