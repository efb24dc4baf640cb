/**
 * Bearer tokens of the admin API: the admin token, and the hash that is stored in place of it
 * and of every application's API key (the tokens themselves are shown once and never kept).
 * @module
 */
import { createHash, randomBytes } from 'node:crypto'

/**
 * A new admin token: `bca_` and 256 random bits, base64url.
 *
 * @example
 * ```ts
 * import { hashToken, newAdminToken } from '@backchannel/admin'
 * const token = newAdminToken() // show it once
 * const adminTokenHash = hashToken(token) // keep this
 * ```
 */
export const newAdminToken = (): string => `bca_${randomBytes(32).toString('base64url')}`

/**
 * SHA-256 of a bearer token, hex: what `createGateway({ adminTokenHash })` and the app registry
 * keep in place of the admin token and API keys.
 *
 * @example
 * ```ts
 * import { hashToken } from '@backchannel/admin'
 * hashToken('bca_example').length // 64
 * ```
 */
export const hashToken = (token: string): string => createHash('sha256').update(token).digest('hex')
