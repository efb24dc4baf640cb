/**
 * The Shared Signals receiver's subjects and events end to end, the cases of issue 23's "Tested
 * for real" that ssf.test.ts does not hold: session, email and complex subjects, RISC
 * `sessions-revoked`, CAEP `credential-change` with and without the stream's policy, a store outage
 * with relays, and a logout reported both as a back-channel logout token and as a SET, relayed
 * once, in both orders, to a real relay receiver. Over real sockets on 127.0.0.1, with the
 * transmitter fixture.
 */
import type { SessionStore } from '@backchannel/core'
import { mintLogoutToken } from '@backchannel/core/mint'
import type { BackchannelStore } from '@backchannel/unstorage'
import { describe, expect, it } from 'vitest'
import { quickRetry } from './fixtures/quick-retry.js'
import { startRelayReceiver } from './fixtures/relay-receiver.js'
import { CAEP, closers, RISC, type SsfSetUp, sessionRevoked, setUp, sign } from './fixtures/ssf-transmitter.js'

type Audit = { source: string; outcome: string; event?: string; reason?: string; revoked?: number; sid?: string }

/** The `source: "ssf"` audit records, oldest first, as [outcome, event, revoked]. */
const outcomes = async ({ audit }: SsfSetUp) =>
  ((await audit()) as Audit[]).reverse().map((r) => [r.outcome, r.event, r.revoked])

describe('subjects', () => {
  it('session-revoked with a session subject (a complex subject naming only the session) ends that IdP session', async () => {
    const ssf = await setUp()
    await ssf.register('s1', 'alice', 'idp-sid-1')
    await ssf.register('s2', 'alice', 'idp-sid-2')
    const subject = { format: 'complex', session: { format: 'opaque', id: 'idp-sid-1' } }
    expect((await ssf.push(await sign(ssf.iss, sessionRevoked(subject)))).status).toBe(202)
    expect([await ssf.state('s1'), await ssf.state('s2')]).toEqual(['revoked', 'active'])
  })

  it('session-revoked with a complex subject (user and session) ends that session of that user only', async () => {
    const ssf = await setUp()
    await ssf.register('s1', 'alice', 'idp-sid-1')
    await ssf.register('s2', 'alice', 'idp-sid-2')
    const subject = {
      format: 'complex',
      user: { format: 'iss_sub', iss: ssf.iss, sub: 'alice' },
      session: { format: 'opaque', id: 'idp-sid-2' },
    }
    expect((await ssf.push(await sign(ssf.iss, sessionRevoked(subject)))).status).toBe(202)
    expect([await ssf.state('s1'), await ssf.state('s2')]).toEqual(['active', 'revoked'])
  })

  it('session-revoked with an email subject ends the sessions of the users registered with that email', async () => {
    const ssf = await setUp()
    const { admin, now } = ssf
    const register = (sessionId: string, sub: string, email?: string) =>
      admin.sessions.register.mutate({ app: 'wiki', sessionId, sub, authTime: now - 600, ...(email ? { email } : {}) })
    await register('laptop', 'alice', 'Alice@Example.com')
    await register('phone', 'alice') // the same user, registered without an email
    await register('bob-1', 'bob', 'bob@example.com')
    // The domain and the local part are compared case-insensitively.
    const subject = { format: 'email', email: 'alice@EXAMPLE.com' }
    expect((await ssf.push(await sign(ssf.iss, sessionRevoked(subject)))).status).toBe(202)
    expect([await ssf.state('laptop'), await ssf.state('phone'), await ssf.state('bob-1')]).toEqual([
      'revoked',
      'revoked',
      'active',
    ])
    await expect.poll(() => outcomes(ssf)).toEqual([['revoked', 'session-revoked', 2]])
  })

  it('an email subject no session was registered with: 202, audited unmatched', async () => {
    const ssf = await setUp()
    await ssf.register('s1', 'alice', 'a')
    const subject = { format: 'email', email: 'nobody@example.com' }
    expect((await ssf.push(await sign(ssf.iss, sessionRevoked(subject)))).status).toBe(202)
    expect(await ssf.state('s1')).toBe('active')
    await expect.poll(() => outcomes(ssf)).toEqual([['unmatched', 'session-revoked', 0]])
  })

  it('refuses an email that is no address at registration', async () => {
    const { admin } = await setUp()
    await expect(
      admin.sessions.register.mutate({ app: 'wiki', sessionId: 's1', sub: 'alice', email: 'alice at example.com' }),
    ).rejects.toMatchObject({ data: { code: 'BAD_REQUEST' } })
  })
})

describe('events', () => {
  it('RISC sessions-revoked ends every session of the user', async () => {
    const ssf = await setUp()
    await ssf.register('s1', 'alice', 'a')
    await ssf.register('s2', 'alice', 'b')
    await ssf.register('b1', 'bob', 'c')
    const events = { [`${RISC}sessions-revoked`]: { subject: { format: 'iss_sub', iss: ssf.iss, sub: 'alice' } } }
    expect((await ssf.push(await sign(ssf.iss, events))).status).toBe(202)
    expect([await ssf.state('s1'), await ssf.state('s2'), await ssf.state('b1')]).toEqual([
      'revoked',
      'revoked',
      'active',
    ])
    await expect.poll(() => outcomes(ssf)).toEqual([['revoked', 'sessions-revoked', 2]])
  })

  const credentialChange = (sub: string) => ({
    [`${CAEP}credential-change`]: {
      subject: { format: 'opaque', id: sub },
      credential_type: 'password',
      change_type: 'update',
    },
  })

  it('credential-change without the stream policy: 202, nothing ends, audited ignored with the reason', async () => {
    const ssf = await setUp()
    await ssf.register('s1', 'alice', 'a')
    expect((await ssf.push(await sign(ssf.iss, credentialChange('alice')))).status).toBe(202)
    expect(await ssf.state('s1')).toBe('active')
    await expect
      .poll(async () => ((await ssf.audit()) as Audit[]).map((r) => [r.outcome, r.event, r.reason]))
      .toEqual([['ignored', 'credential-change', expect.stringContaining('revokeOnCredentialChange')]])
  })

  it('credential-change on a stream with revokeOnCredentialChange ends every session of the user', async () => {
    const ssf = await setUp()
    const strict = await ssf.admin.streams.create.mutate({
      name: 'strict',
      issuer: ssf.iss,
      apps: ['wiki'],
      revokeOnCredentialChange: true,
    })
    expect(strict.stream).toMatchObject({ revokeOnCredentialChange: true })
    expect(await ssf.admin.streams.get.query({ name: 'idp' })).not.toHaveProperty('revokeOnCredentialChange')
    await ssf.register('s1', 'alice', 'a')
    await ssf.register('s2', 'alice', 'b')
    await ssf.register('b1', 'bob', 'c')
    const res = await fetch(`${ssf.url}/ssf/strict`, {
      method: 'POST',
      headers: { 'content-type': 'application/secevent+jwt', authorization: strict.authorizationHeader ?? '' },
      body: await sign(ssf.iss, credentialChange('alice')),
    })
    expect(res.status).toBe(202)
    expect([await ssf.state('s1'), await ssf.state('s2'), await ssf.state('b1')]).toEqual([
      'revoked',
      'revoked',
      'active',
    ])
  })
})

describe('store outage', () => {
  it('answers 503 with Retry-After, then the retry succeeds and nothing is lost: sessions, relay delivery, audit', async () => {
    let down = true
    // The gateway's store behind your own sessions option, unreachable at first (relays included).
    const sessions = (store: BackchannelStore): SessionStore => ({
      relayOutbox: true,
      register: (input) => store.register(input),
      status: (app, id) => store.status(app, id),
      list: (app, iss, sub) => store.list(app, iss, sub),
      end: (app, id) => store.end(app, id),
      revoke: (target) => (down ? Promise.reject(new Error('ECONNREFUSED')) : store.revoke(target)),
    })
    const ssf = await setUp(sessions)
    const url = 'http://127.0.0.1:9/bcl' // no drainer runs: deliveries wait in the outbox
    await ssf.admin.apps.update.mutate({ name: 'wiki', relays: [{ url, mode: 'sign', clientId: 'next' }] })
    await ssf.register('s1', 'alice', 'sid-1')
    const subject = { format: 'complex', session: { format: 'opaque', id: 'sid-1' } }
    const token = await sign(ssf.iss, sessionRevoked(subject))

    const refused = await ssf.push(token)
    expect(refused.status).toBe(503)
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/)
    expect(await ssf.state('s1')).toBe('active')
    expect(await ssf.admin.relays.list.query({ app: 'wiki' })).toEqual([])

    down = false
    expect((await ssf.push(token)).status).toBe(202)
    expect(await ssf.state('s1')).toBe('revoked')
    // The relay-once claim was given back with the jti's: the retry relays.
    expect(await ssf.admin.relays.list.query({ app: 'wiki' })).toMatchObject([{ url, mode: 'sign' }])
    // The refusal is the gateway's record (no application was reached), the retry the app's.
    const all = async () =>
      ((await ssf.admin.audit.list.query({})) as (Audit & { app?: string })[])
        .filter((r) => r.source === 'ssf')
        .reverse()
        .map((r) => [r.app, r.outcome, r.revoked])
    await expect.poll(all).toEqual([
      [undefined, 'failed', undefined],
      ['wiki', 'revoked', 1],
    ])
  })
})

describe('a logout reported both as a logout token and as a SET is relayed once', () => {
  /** The SSF set-up with a relay drainer, `wiki` relaying to a real receiver, and alice's session `sid-1`. */
  async function relaying() {
    const receiver = await startRelayReceiver()
    closers.push(() => receiver.close())
    const ssf = await setUp(undefined, { relays: { planRetry: quickRetry, pollMs: 50 } })
    await ssf.admin.apps.update.mutate({
      name: 'wiki',
      relays: [{ url: receiver.url, mode: 'sign', clientId: 'downstream' }],
    })
    const { secret } = await ssf.admin.apps.rotateSecret.mutate({ name: 'wiki' })
    await ssf.register('s1', 'alice', 'sid-1')
    await ssf.register('s2', 'alice', 'sid-2')
    const bcl = async () => {
      const token = await mintLogoutToken({ secret, iss: ssf.iss, sub: 'alice', sid: 'sid-1' })
      const res = await fetch(`${ssf.url}/auth/logout/wiki`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ logout_token: token }),
      })
      expect(res.status).toBe(200)
    }
    const set = async () => {
      const subject = {
        format: 'complex',
        user: { format: 'iss_sub', iss: ssf.iss, sub: 'alice' },
        session: { format: 'opaque', id: 'sid-1' },
      }
      expect((await ssf.push(await sign(ssf.iss, sessionRevoked(subject)))).status).toBe(202)
    }
    /** Both reports were audited, the session ended, and the relay got exactly one token. */
    const relayedOnce = async (sources: string[]) => {
      expect([await ssf.state('s1'), await ssf.state('s2')]).toEqual(['revoked', 'active'])
      const deliveries = await ssf.admin.relays.list.query({ app: 'wiki' })
      expect(deliveries).toHaveLength(1)
      await expect
        .poll(async () => (await ssf.admin.relays.list.query({ app: 'wiki' }))[0]?.state, { timeout: 10_000 })
        .toBe('delivered')
      expect(receiver.received).toHaveLength(1)
      const reports = async () =>
        ((await ssf.admin.audit.list.query({ app: 'wiki' })) as Audit[])
          .filter((r) => r.source === 'backchannel' || r.source === 'ssf')
          .reverse()
          .map((r) => [r.source, r.sid])
      await expect.poll(reports).toEqual(sources.map((source) => [source, 'sid-1']))
    }
    return { bcl, set, relayedOnce }
  }

  it('logout token first, then the SET: both revoke and are audited, the relay gets one token', async () => {
    const { bcl, set, relayedOnce } = await relaying()
    await bcl()
    await set()
    await relayedOnce(['backchannel', 'ssf'])
  })

  it('SET first, then the logout token: both revoke and are audited, the relay gets one token', async () => {
    const { bcl, set, relayedOnce } = await relaying()
    await set()
    await bcl()
    await relayedOnce(['ssf', 'backchannel'])
  })
})
