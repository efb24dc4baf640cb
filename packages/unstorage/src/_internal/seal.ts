/**
 * Secrets at rest: AES-256-GCM under the caller's 32-byte master key, a fresh 96-bit IV per
 * value, the record's name as additional data (a sealed secret cannot be moved to another app).
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { errors } from '@backchannel/core'

const VERSION = 'v1'

/** A sealed value the master key does not open: another key sealed it, or it was altered. */
export class SecretUnreadable extends errors.StoreUnavailable {}

export function seal(masterKey: Uint8Array, plaintext: Uint8Array, context: string): string {
  const iv = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', masterKey, iv)
  cipher.setAAD(Buffer.from(context))
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()])
  return [VERSION, iv, body, cipher.getAuthTag()]
    .map((p) => (typeof p === 'string' ? p : p.toString('base64url')))
    .join('.')
}

export function open(masterKey: Uint8Array, sealed: string, context: string): Uint8Array {
  const [version, iv, body, tag] = sealed.split('.')
  if (version !== VERSION || !iv || !body || !tag)
    throw new errors.StoreUnavailable('a stored secret is not in a known format')
  try {
    const decipher = createDecipheriv('aes-256-gcm', masterKey, Buffer.from(iv, 'base64url'))
    decipher.setAAD(Buffer.from(context))
    decipher.setAuthTag(Buffer.from(tag, 'base64url'))
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()])
  } catch (cause) {
    throw new SecretUnreadable(
      'a stored secret cannot be decrypted: is BACKCHANNEL_MASTER_KEY the key it was sealed with?',
      {
        cause,
      },
    )
  }
}
