/**
 * What the API shows of stored records: times in whole seconds since epoch (the store keeps the
 * clock's fractions; clients want integers), and no empty `iss` on the sessions of HMAC apps.
 * @module
 */
import type { SessionRecord, SessionState } from '@backchannel/core'
import type { AuditRecord } from '@backchannel/unstorage'

/** A time in whole seconds since epoch. */
export const wholeSeconds = (seconds: number) => Math.floor(seconds)

/** A session as `sessions.register` and `sessions.list` return it. */
export type PublicSession = Omit<SessionRecord, 'iss'> & { iss?: string }

/** A session without an empty `iss` (an HMAC app's), its times in whole seconds. */
export function publicSession(record: SessionRecord): PublicSession {
  const { iss, authTime, createdAt, expiresAt, revokedAt, ...rest } = record
  return {
    ...rest,
    ...(iss === '' ? {} : { iss }),
    authTime: wholeSeconds(authTime),
    createdAt: wholeSeconds(createdAt),
    ...(expiresAt === undefined ? {} : { expiresAt: wholeSeconds(expiresAt) }),
    ...(revokedAt === undefined ? {} : { revokedAt: wholeSeconds(revokedAt) }),
  }
}

/** A session's state, its `revokedAt` in whole seconds. */
export function publicState(state: SessionState): SessionState {
  return state.state === 'revoked' ? { state: 'revoked', revokedAt: wholeSeconds(state.revokedAt) } : state
}

/** An audit record, its `at` in whole seconds. */
export function publicAudit(record: AuditRecord): AuditRecord {
  return { ...record, at: wholeSeconds(record.at) }
}
