/** relayOnce: one IdP session's logout relays once in 10 minutes, however many times it is reported. */
import { describe, expect, it } from 'vitest'
import { RELAY_ONCE_SECONDS, type RevocationTarget, relayOnce } from '../src/index.js'
import { createManualClock, createMemoryStore } from '../src/testing/index.js'

const relay = { relays: [{ url: 'https://next.example.com/bcl', mode: 'sign' as const, clientId: 'next' }] }
const target = (fields: Partial<RevocationTarget> = {}): RevocationTarget => ({
  app: 'wiki',
  iss: 'https://id.example.com',
  sub: 'alice',
  sid: 'sid-1',
  scope: 'session',
  issuedAt: 1_800_000_000,
  relay,
  ...fields,
})

describe('relayOnce', () => {
  it('keeps the relays of the first report of an (app, iss, sid) and drops them from the next ones', async () => {
    const clock = createManualClock()
    const claims = createMemoryStore({ now: clock.now })
    const first = target()
    await relayOnce(first, claims, clock.now())
    expect(first.relay).toBe(relay)
    const second = target()
    await relayOnce(second, claims, clock.now())
    expect(second).not.toHaveProperty('relay')
    // Another sid, issuer or application is another logout.
    for (const other of [
      target({ sid: 'sid-2' }),
      target({ iss: 'https://other.example.com' }),
      target({ app: 'blog' }),
    ]) {
      await relayOnce(other, claims, clock.now())
      expect(other.relay).toBe(relay)
    }
  })

  it('relays again once RELAY_ONCE_SECONDS have passed', async () => {
    const clock = createManualClock()
    const claims = createMemoryStore({ now: clock.now })
    await relayOnce(target(), claims, clock.now())
    clock.advance(RELAY_ONCE_SECONDS - 1)
    const within = target()
    await relayOnce(within, claims, clock.now())
    expect(within).not.toHaveProperty('relay')
    clock.advance(2)
    const after = target()
    await relayOnce(after, claims, clock.now())
    expect(after.relay).toBe(relay)
  })

  it('gives the claim back when asked, so that the report that is written relays', async () => {
    const clock = createManualClock()
    const claims = createMemoryStore({ now: clock.now })
    const release = await relayOnce(target(), claims, clock.now())
    await release()
    const retry = target()
    await relayOnce(retry, claims, clock.now())
    expect(retry.relay).toBe(relay)
  })

  it('leaves alone a target without relays or without sid, claiming nothing', async () => {
    const clock = createManualClock()
    const claims = createMemoryStore({ now: clock.now })
    const subjectWide = target({ sid: undefined })
    await relayOnce(subjectWide, claims, clock.now())
    await relayOnce(target({ relay: undefined }), claims, clock.now())
    expect(subjectWide.relay).toBe(relay)
    const first = target()
    await relayOnce(first, claims, clock.now())
    expect(first.relay).toBe(relay)
  })
})
