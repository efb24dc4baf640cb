/**
 * The event table of the Shared Signals receiver: which CAEP and RISC events end sessions, and
 * whose, read from the event's subject identifier (RFC 9493).
 * @see https://openid.net/specs/openid-caep-1_0.html CAEP 1.0 §3.1 (session-revoked)
 * @see https://openid.net/specs/openid-risc-1_0.html RISC 1.0 §2
 * @module
 */
import { isObject } from './_internal/json-payload.js'
import type { SecurityEvent } from './set.js'

const CAEP = 'https://schemas.openid.net/secevent/caep/event-type/'
const RISC = 'https://schemas.openid.net/secevent/risc/event-type/'

/**
 * The event types that end sessions, by URI, with their short name (metrics, audit).
 * `credential-change` ends them only on a stream with `revokeOnCredentialChange`.
 */
export const SESSION_EVENTS: Readonly<Record<string, string>> = {
  [`${CAEP}session-revoked`]: 'session-revoked',
  [`${RISC}sessions-revoked`]: 'sessions-revoked',
  [`${RISC}account-disabled`]: 'account-disabled',
  [`${RISC}account-purged`]: 'account-purged',
  [`${CAEP}credential-change`]: 'credential-change',
}

/** What a stream decides about the events it receives. */
export interface EventPolicy {
  /** `true`: CAEP `credential-change` ends every session of its user. Default `false`: ignored. */
  revokeOnCredentialChange?: boolean
}

/**
 * What an event asks of the session registry. `revoke`: end the sessions of `sid` (one IdP
 * session), else every session of `sub`, else of each user registered with `email`; `iss` is the
 * subject's own issuer when it names one (an `iss_sub` subject), else the application's.
 * `ignore`: nothing to do, `reason` says why.
 */
export type SsfAction =
  | { action: 'revoke'; event: string; iss?: string; sub?: string; sid?: string; email?: string }
  | { action: 'ignore'; event: string; reason: string }

/**
 * Reads what a verified event asks: only `session-revoked` with a subject naming a session ends
 * one IdP session; it and RISC `sessions-revoked`, `account-disabled` and `account-purged` end
 * every session of the subject's user otherwise, and so does CAEP `credential-change` when
 * `policy.revokeOnCredentialChange` is set.
 *
 * @example
 * ```ts
 * import { interpretEvent } from '@backchannel/core'
 * interpretEvent(event) // { action: 'revoke', event: 'session-revoked', iss: 'https://id.example.com', sub: 'alice' }
 * interpretEvent(credentialChange, { revokeOnCredentialChange: false }) // { action: 'ignore', … }
 * ```
 */
export function interpretEvent(set: SecurityEvent, policy: EventPolicy = {}): SsfAction {
  const event = SESSION_EVENTS[set.type]
  if (event === undefined) return { action: 'ignore', event: 'other', reason: 'the event type does not end sessions' }
  if (event === 'credential-change' && policy.revokeOnCredentialChange !== true) {
    return {
      action: 'ignore',
      event,
      reason: 'credential-change ends sessions only on a stream with revokeOnCredentialChange',
    }
  }
  const subject = set.subject
  if (!subject) return { action: 'ignore', event, reason: 'the event has no subject' }

  const complex = subject.format === undefined || subject.format === 'complex'
  const user = !complex ? subject : isObject(subject.user) ? subject.user : undefined
  const session = complex && event === 'session-revoked' && isObject(subject.session) ? subject.session : undefined
  const sid = session?.format === 'opaque' && isId(session.id) ? session.id : undefined
  const who = user ? userOf(user) : undefined
  if (typeof who === 'string') return { action: 'ignore', event, reason: who }
  if (sid === undefined && who === undefined) {
    return { action: 'ignore', event, reason: 'the subject names neither a user nor a session' }
  }
  return { action: 'revoke', event, ...who, ...(sid === undefined ? {} : { sid }) }
}

/** The user a simple subject names, or why it cannot be matched. */
function userOf(subject: Record<string, unknown>): { iss?: string; sub: string } | { email: string } | string {
  switch (subject.format) {
    case 'iss_sub':
      if (isId(subject.iss) && isId(subject.sub)) return { iss: subject.iss, sub: subject.sub }
      return 'the iss_sub subject lacks iss or sub'
    case 'opaque':
      return isId(subject.id) ? { sub: subject.id } : 'the opaque subject lacks id'
    case 'email':
      return isId(subject.email) ? { email: subject.email } : 'the email subject lacks email'
    default:
      return `subjects of format ${JSON.stringify(String(subject.format))} are not matched`
  }
}

const isId = (value: unknown): value is string => typeof value === 'string' && value.length > 0 && value.length <= 1024
