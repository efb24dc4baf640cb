/**
 * `@backchannel/core/mint`: sign an HMAC logout token, as a non-OIDC application's backend does
 * to log a user out through the gateway. Needs only jose; no server, no storage.
 * @module
 */
import { SignJWT } from 'jose'
import type { HmacAlgorithm } from './app.js'
import { BACKCHANNEL_LOGOUT_EVENT } from './claims.js'

/** Options of {@link mintLogoutToken}. */
export interface MintOptions {
  /** The secret the gateway issued (`bcs_…`); its UTF-8 bytes are the key. */
  secret: string
  /** The user whose sessions end; give `sub`, `sid` or both. */
  sub?: string
  /** The one session that ends. */
  sid?: string
  /** Default HS256. */
  alg?: HmacAlgorithm
  iss?: string
  aud?: string
  /** Seconds the token is valid. Default 120. */
  lifetime?: number
  /** The clock, seconds since epoch. Default `Date.now() / 1000`. */
  now?: number
}

/**
 * Signs a logout token with `sub`/`sid`, `iat`, `exp`, a random `jti` and the back-channel
 * logout event, for an HMAC application of the gateway.
 *
 * @example
 * ```ts
 * import { mintLogoutToken } from '@backchannel/core/mint'
 * const token = await mintLogoutToken({ secret: process.env.BACKCHANNEL_SECRET!, sub: 'user-42' })
 * await fetch('https://gateway.example.com/auth/logout/billing', {
 *   method: 'POST',
 *   body: new URLSearchParams({ logout_token: token }),
 * })
 * ```
 * @throws {TypeError} when neither `sub` nor `sid` is given.
 */
export async function mintLogoutToken(options: MintOptions): Promise<string> {
  if (options.sub === undefined && options.sid === undefined) throw new TypeError('give sub or sid')
  const iat = Math.floor(options.now ?? Date.now() / 1000)
  return new SignJWT({
    ...(options.sub === undefined ? {} : { sub: options.sub }),
    ...(options.sid === undefined ? {} : { sid: options.sid }),
    ...(options.iss === undefined ? {} : { iss: options.iss }),
    ...(options.aud === undefined ? {} : { aud: options.aud }),
    jti: crypto.randomUUID(),
    events: { [BACKCHANNEL_LOGOUT_EVENT]: {} },
  })
    .setProtectedHeader({ alg: options.alg ?? 'HS256', typ: 'logout+jwt' })
    .setIssuedAt(iat)
    .setExpirationTime(iat + (options.lifetime ?? 120))
    .sign(new TextEncoder().encode(options.secret))
}
