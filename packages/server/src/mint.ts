/** Minting an HMAC logout token, as a non-OIDC application's backend would. */
import { randomUUID } from 'node:crypto'
import { BACKCHANNEL_LOGOUT_EVENT } from '@backchannel/core'
import { SignJWT } from 'jose'

/** Options of {@link mintLogoutToken}. */
export interface MintOptions {
  /** The secret the gateway issued (`bcs_…`); its UTF-8 bytes are the key. */
  secret: string
  sub?: string
  sid?: string
  /** Default HS256. */
  alg?: 'HS256' | 'HS384' | 'HS512'
  iss?: string
  aud?: string
  /** Seconds the token is valid. Default 120. */
  lifetime?: number
}

/**
 * A logout token with `sub`/`sid`, `iat`, `exp`, `jti` and the back-channel logout event.
 *
 * @example
 * ```ts
 * const token = await mintLogoutToken({ secret: process.env.BACKCHANNEL_SECRET!, sub: 'user-42' })
 * await fetch('https://gateway.example.com/auth/logout/billing', {
 *   method: 'POST',
 *   body: new URLSearchParams({ logout_token: token }),
 * })
 * ```
 */
export async function mintLogoutToken(options: MintOptions): Promise<string> {
  if (options.sub === undefined && options.sid === undefined) throw new TypeError('give sub or sid')
  const iat = Math.floor(Date.now() / 1000)
  return new SignJWT({
    ...(options.sub === undefined ? {} : { sub: options.sub }),
    ...(options.sid === undefined ? {} : { sid: options.sid }),
    ...(options.iss === undefined ? {} : { iss: options.iss }),
    ...(options.aud === undefined ? {} : { aud: options.aud }),
    jti: randomUUID(),
    events: { [BACKCHANNEL_LOGOUT_EVENT]: {} },
  })
    .setProtectedHeader({ alg: options.alg ?? 'HS256', typ: 'logout+jwt' })
    .setIssuedAt(iat)
    .setExpirationTime(iat + (options.lifetime ?? 120))
    .sign(new TextEncoder().encode(options.secret))
}
