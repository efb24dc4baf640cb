/** The events about a stream itself: verification and stream-updated, as the flow reads them. */
import { describe, expect, it } from 'vitest'
import { readStreamEvent, type SecurityEvent } from '../src/index.js'

const SSF = 'https://schemas.openid.net/secevent/ssf/event-type/'
const set = (type: string, event: Record<string, unknown>): SecurityEvent => ({
  iss: 'https://ssf.example.com',
  jti: 'j',
  iat: 1,
  type,
  event,
})

describe('readStreamEvent', () => {
  it('reads a verification event with or without its state', () => {
    expect(readStreamEvent(set(`${SSF}verification`, { state: 'abc' }))).toEqual({
      event: 'verification',
      state: 'abc',
    })
    expect(readStreamEvent(set(`${SSF}verification`, {}))).toEqual({ event: 'verification' })
    expect(readStreamEvent(set(`${SSF}verification`, { state: 42 }))).toEqual({
      event: 'verification',
      invalid: expect.stringMatching(/state/),
    })
  })

  it('reads stream-updated with its status, reason and iat, and refuses another status', () => {
    expect(readStreamEvent(set(`${SSF}stream-updated`, { status: 'paused', reason: 'maintenance' }))).toEqual({
      event: 'stream-updated',
      status: 'paused',
      reason: 'maintenance',
      issuedAt: 1,
    })
    expect(readStreamEvent(set(`${SSF}stream-updated`, { status: 'disabled' }))).toEqual({
      event: 'stream-updated',
      status: 'disabled',
      issuedAt: 1,
    })
    expect(readStreamEvent(set(`${SSF}stream-updated`, { status: 'asleep' }))).toEqual({
      event: 'stream-updated',
      invalid: expect.stringMatching(/enabled, paused, disabled/),
    })
  })

  it('is undefined for the events about subjects', () => {
    const revoked = 'https://schemas.openid.net/secevent/caep/event-type/session-revoked'
    expect(readStreamEvent(set(revoked, { status: 'paused' }))).toBeUndefined()
  })
})
