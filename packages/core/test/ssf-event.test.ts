/** The event table of the Shared Signals receiver: what each CAEP and RISC event asks of sessions. */
import { describe, expect, it } from 'vitest'
import { interpretEvent, type SecurityEvent } from '../src/index.js'

const CAEP = 'https://schemas.openid.net/secevent/caep/event-type/'
const RISC = 'https://schemas.openid.net/secevent/risc/event-type/'
const iss = 'https://id.example.com'

const set = (type: string, subject?: Record<string, unknown>): SecurityEvent => ({
  iss,
  jti: 'j',
  iat: 1,
  type,
  event: {},
  ...(subject ? { subject } : {}),
})

describe('interpretEvent', () => {
  it('session-revoked with a complex subject naming a session ends that sid, of the user', () => {
    const subject = {
      format: 'complex',
      user: { format: 'iss_sub', iss, sub: 'alice' },
      session: { format: 'opaque', id: 'sid-1' },
    }
    expect(interpretEvent(set(`${CAEP}session-revoked`, subject))).toEqual({
      action: 'revoke',
      event: 'session-revoked',
      iss,
      sub: 'alice',
      sid: 'sid-1',
    })
    // Without `format` a subject with members is complex too (RFC 9493 §3.3).
    expect(interpretEvent(set(`${CAEP}session-revoked`, { session: { format: 'opaque', id: 's' } }))).toEqual({
      action: 'revoke',
      event: 'session-revoked',
      sid: 's',
    })
  })

  it('RISC events end every session of the user, even when the subject names a session', () => {
    for (const name of ['sessions-revoked', 'account-disabled', 'account-purged']) {
      const subject = {
        format: 'complex',
        user: { format: 'opaque', id: 'alice' },
        session: { format: 'opaque', id: 's' },
      }
      expect(interpretEvent(set(`${RISC}${name}`, subject))).toEqual({ action: 'revoke', event: name, sub: 'alice' })
    }
  })

  it('credential-change ends every session of the user only when the stream says so', () => {
    const changed = set(`${CAEP}credential-change`, { format: 'opaque', id: 'alice' })
    expect(interpretEvent(changed)).toEqual({
      action: 'ignore',
      event: 'credential-change',
      reason: expect.stringContaining('revokeOnCredentialChange'),
    })
    expect(interpretEvent(changed, { revokeOnCredentialChange: false })).toMatchObject({ action: 'ignore' })
    expect(interpretEvent(changed, { revokeOnCredentialChange: true })).toEqual({
      action: 'revoke',
      event: 'credential-change',
      sub: 'alice',
    })
  })

  it('an email subject names its email, alone or as the user of a complex subject', () => {
    expect(interpretEvent(set(`${CAEP}session-revoked`, { format: 'email', email: 'Alice@Example.com' }))).toEqual({
      action: 'revoke',
      event: 'session-revoked',
      email: 'Alice@Example.com',
    })
    const complex = { user: { format: 'email', email: 'a@example.com' }, session: { format: 'opaque', id: 's' } }
    expect(interpretEvent(set(`${CAEP}session-revoked`, complex))).toEqual({
      action: 'revoke',
      event: 'session-revoked',
      email: 'a@example.com',
      sid: 's',
    })
  })

  it('ignores other events, missing subjects, emailless email subjects and unknown formats, saying why', () => {
    const other = set(`${CAEP}token-claims-change`, { format: 'opaque', id: 'a' })
    expect(interpretEvent(other)).toMatchObject({ action: 'ignore', event: 'other' })
    expect(interpretEvent(set(`${CAEP}session-revoked`))).toMatchObject({ action: 'ignore', reason: /no subject/ })
    expect(interpretEvent(set(`${CAEP}session-revoked`, { format: 'email' }))).toMatchObject({
      action: 'ignore',
      reason: /lacks email/,
    })
    expect(
      interpretEvent(set(`${RISC}account-disabled`, { format: 'phone_number', phone_number: '+1' })),
    ).toMatchObject({
      action: 'ignore',
      reason: /phone_number/,
    })
    expect(interpretEvent(set(`${RISC}account-disabled`, { format: 'iss_sub', iss }))).toMatchObject({
      action: 'ignore',
      reason: /lacks iss or sub/,
    })
  })
})
