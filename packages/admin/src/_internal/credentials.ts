/**
 * Secrets the gateway issues. Each is a prefixed string carrying 256 random bits; an HMAC
 * application's key is the UTF-8 bytes of its whole secret string, so every JWT library's
 * "secret" parameter takes it as it is (jose, PyJWT, firebase/php-jwt, jjwt). The admin token
 * and the hashing of bearer tokens are public, in `tokens.ts`.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto'

export const newSecret = () => `bcs_${randomBytes(32).toString('base64url')}`
export const newApiKey = () => `bck_${randomBytes(32).toString('base64url')}`
/** A stream's push token, sent by its transmitter as `Authorization: Bearer …`. */
export const newStreamToken = () => `bcp_${randomBytes(32).toString('base64url')}`

/** The HMAC key of a secret string. */
export const secretKey = (secret: string) => new TextEncoder().encode(secret)

/**
 * Compares two hex hashes in constant time (`false` for empty or different lengths).
 *
 * @example
 * ```ts
 * sameHash(hashToken('a'), hashToken('a')) // true
 * ```
 */
export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex')
  const y = Buffer.from(b, 'hex')
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y)
}
