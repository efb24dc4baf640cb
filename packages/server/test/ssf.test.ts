/**
 * The Shared Signals receiver end to end over real sockets: a transmitter on 127.0.0.1 (its
 * `/.well-known/ssf-configuration` and JWKS, SETs signed with jose) and a gateway on 127.0.0.1
 * that a stream is created on through the admin API, then SETs pushed to `/ssf/:stream`.
 */

import { MAX_SET_BYTES, type RevocationTarget, SET_REPLAY_SECONDS, type SessionStore } from '@backchannel/core'
import type { BackchannelStore } from '@backchannel/unstorage'
import { memoryStore } from '@backchannel/unstorage/memory'
import { generateKeyPair, SignJWT } from 'jose'
import { describe, expect, it } from 'vitest'
import {
  AUDIENCE,
  closers,
  nextJti,
  RISC,
  sessionRevoked,
  sessionsDownWhile,
  setClockAhead,
  setUp,
  sign,
  signing,
  startGateway,
  startTransmitter,
  stranger,
} from './fixtures/ssf-transmitter.js'

describe('streams.create', () => {
  it('discovers the transmitter, answers the push URL and a header shown once, and keeps only its hash', async () => {
    const { created, admin, iss, push } = await setUp()
    expect(created.pushUrl).toBe(`${AUDIENCE}/ssf/idp`)
    expect(created.authorizationHeader).toMatch(/^Bearer bcp_/)
    expect(created.stream).toMatchObject({ name: 'idp', issuer: iss, audience: AUDIENCE, jwksUri: `${iss}/jwks` })
    const got = await admin.streams.get.query({ name: 'idp' })
    expect(JSON.stringify(got)).not.toContain('authorizationHash')
    expect((await admin.streams.list.query()).map((s: { name: string }) => s.name)).toEqual(['idp'])
    const records = (await admin.audit.list.query({})).filter((r) => r.stream === 'idp')
    expect(records.map((r: { action?: string }) => r.action)).toContain('streams.create')
    await admin.streams.delete.mutate({ name: 'idp' })
    await expect(admin.streams.get.query({ name: 'idp' })).rejects.toMatchObject({ data: { code: 'NOT_FOUND' } })
    // Pushes read streams through a cache: a deleted stream is gone from it at once.
    expect((await push(await sign(iss, sessionRevoked({ format: 'opaque', id: 'alice' })))).status).toBe(404)
  })

  it('audits streams.* under the stream, not as an application of the same name', async () => {
    const { admin } = await setUp()
    const records = await admin.audit.list.query({})
    expect(records.find((r) => r.action === 'streams.create')).toMatchObject({ stream: 'idp', source: 'admin' })
    expect(records.find((r) => r.action === 'streams.create')?.app).toBeUndefined()
  })

  it('reads the metadata of an issuer with a path after the host: /.well-known/ssf-configuration/PATH', async () => {
    const transmitter = await startTransmitter(undefined, '/tenant-1')
    const store = memoryStore()
    closers.push(() => store.close())
    const { admin } = await startGateway(store)
    await admin.apps.create.mutate({ name: 'wiki' })
    const created = await admin.streams.create.mutate({ name: 'idp', issuer: transmitter.issuer, apps: ['wiki'] })
    expect(created.stream).toMatchObject({ issuer: transmitter.issuer, jwksUri: `${transmitter.issuer}/jwks` })
  })

  it('refuses a transmitter stating another issuer', async () => {
    const transmitter = await startTransmitter('https://someone-else.example.test')
    const store = memoryStore()
    closers.push(() => store.close())
    const { admin } = await startGateway(store)
    await admin.apps.create.mutate({ name: 'wiki' })
    await expect(
      admin.streams.create.mutate({ name: 'idp', issuer: transmitter.issuer, apps: ['wiki'] }),
    ).rejects.toMatchObject({ data: { backchannelCode: 'ERR_ISSUER_MISMATCH' } })
  })

  it('refuses an insecure or private issuer by its rule, before connecting', async () => {
    const store = memoryStore()
    closers.push(() => store.close())
    const { admin } = await startGateway(store, { insecure: false })
    await admin.apps.create.mutate({ name: 'wiki' })
    await expect(
      admin.streams.create.mutate({ name: 'a', issuer: 'http://ssf.invalid', apps: ['wiki'] }),
    ).rejects.toMatchObject({ data: { backchannelCode: 'ERR_ISSUER_INSECURE' } })
    await expect(
      admin.streams.create.mutate({ name: 'b', issuer: 'https://10.255.255.1', apps: ['wiki'] }),
    ).rejects.toMatchObject({ data: { backchannelCode: 'ERR_ISSUER_ADDRESS_FORBIDDEN' } })
    expect(await admin.streams.list.query()).toEqual([])
  })
})

describe('POST /ssf/:stream', () => {
  it('answers 401 to a missing or wrong Authorization, 404 to an unknown stream', async () => {
    const { push, iss, url, admin } = await setUp()
    const token = await sign(iss, sessionRevoked({ format: 'opaque', id: 'alice' }))
    expect((await push(token, { authorization: '' })).status).toBe(401)
    expect((await push(token, { authorization: 'Bearer bcp_not-the-token' })).status).toBe(401)
    // Anyone's requests are logged and counted, never audited: only the stream's own SET is.
    expect((await push(token)).status).toBe(202)
    const ssfAudit = async () =>
      (await admin.audit.list.query({})).filter((r) => r.source === 'ssf').map((r) => r.outcome)
    await expect.poll(ssfAudit).toEqual(['unmatched'])
    const unknown = await fetch(`${url}/ssf/nope`, {
      method: 'POST',
      headers: { 'content-type': 'application/secevent+jwt' },
      body: token,
    })
    expect(unknown.status).toBe(404)
  })

  it('answers 413 to a SET over 64 KiB, before reading it all', async () => {
    const { push, iss } = await setUp()
    const big = await sign(iss, sessionRevoked({ format: 'opaque', id: 'alice' }), {
      padding: 'x'.repeat(MAX_SET_BYTES),
    })
    const res = await push(big)
    expect(res.status).toBe(413)
    expect(res.headers.get('cache-control')).toBe('no-store')
  })

  it('answers paths near the route (/ssf, /ssf/, /ssf/a/b) as unknown streams, not with the router 404', async () => {
    const { url } = await setUp()
    for (const path of ['/ssf', '/ssf/', '/ssf/a/b']) {
      const res = await fetch(`${url}${path}`, { method: 'POST', body: 'x' })
      expect([path, res.status, res.headers.get('cache-control')]).toEqual([path, 404, 'no-store'])
    }
  })

  it('throttles failures with 429 and Retry-After (near paths count too), never a valid SET', async () => {
    const { push, iss, url, register, state } = await setUp()
    let throttled: Response | undefined
    for (let i = 0; i < 40 && !throttled; i++) {
      const res = i % 2 ? await push('not-a-set') : await fetch(`${url}/ssf/a/b`, { method: 'POST' })
      if (res.status === 429) throttled = res
      else expect(res.status).toBe(i % 2 ? 400 : 404)
    }
    expect(throttled).toBeDefined()
    expect(Number(throttled?.headers.get('retry-after'))).toBeGreaterThan(0)
    // A genuine SET from the throttled address still goes through.
    await register('s1', 'alice', 'a')
    expect((await push(await sign(iss, sessionRevoked({ format: 'opaque', id: 'alice' })))).status).toBe(202)
    expect(await state('s1')).toBe('revoked')
  })

  it('session-revoked naming a session ends that session only: 202, empty body', async () => {
    const { push, iss, register, state, audit } = await setUp()
    await register('s1', 'alice', 'idp-sid-1')
    await register('s2', 'alice', 'idp-sid-2')
    const subject = {
      format: 'complex',
      user: { format: 'iss_sub', iss, sub: 'alice' },
      session: { format: 'opaque', id: 'idp-sid-1' },
    }
    const res = await push(await sign(iss, sessionRevoked(subject)))
    expect(res.status).toBe(202)
    expect(await res.text()).toBe('')
    expect(await state('s1')).toBe('revoked')
    expect(await state('s2')).toBe('active')
    await expect
      .poll(audit)
      .toMatchObject([
        { source: 'ssf', stream: 'idp', event: 'session-revoked', outcome: 'revoked', sid: 'idp-sid-1', revoked: 1 },
      ])
  })

  it('session-revoked naming a user ends every session of the user', async () => {
    const { push, iss, register, state } = await setUp()
    await register('s1', 'alice', 'a')
    await register('s2', 'alice', 'b')
    await register('s3', 'bob', 'c')
    expect((await push(await sign(iss, sessionRevoked({ format: 'iss_sub', iss, sub: 'alice' })))).status).toBe(202)
    expect([await state('s1'), await state('s2'), await state('s3')]).toEqual(['revoked', 'revoked', 'active'])
  })

  it('RISC account-disabled with an opaque subject ends every session of the user', async () => {
    const { push, iss, register, state } = await setUp()
    await register('s1', 'alice', 'a')
    const events = { [`${RISC}account-disabled`]: { subject: { format: 'opaque', id: 'alice' }, reason: 'hijacking' } }
    expect((await push(await sign(iss, events))).status).toBe(202)
    expect(await state('s1')).toBe('revoked')
  })

  it('relays what it ends, to sign and hmac relays, as a logout does', async () => {
    const { push, iss, register, admin } = await setUp()
    // No drainer runs in these gateways: the deliveries wait in the outbox, nothing is posted.
    const url = 'http://127.0.0.1:9/bcl'
    const signed = 'http://127.0.0.1:9/signed'
    await admin.apps.update.mutate({
      name: 'wiki',
      relays: [
        { url, mode: 'hmac' },
        { url: signed, mode: 'sign', clientId: 'next' },
      ],
    })
    await register('s1', 'alice', 'a')
    expect(await push(await sign(iss, sessionRevoked({ format: 'opaque', id: 'alice' })))).toMatchObject({
      status: 202,
    })
    const deliveries = await admin.relays.list.query({ app: 'wiki' })
    expect(deliveries.map((d) => [d.url, d.mode, d.state]).sort()).toEqual([
      [url, 'hmac', 'pending'],
      [signed, 'sign', 'pending'],
    ])
  })

  it('reads the subject from sub_id first, from the event only without it', async () => {
    const { push, iss, register, state } = await setUp()
    await register('alice-1', 'alice', 'a')
    await register('bob-1', 'bob', 'b')
    const events = sessionRevoked({ format: 'opaque', id: 'bob' })
    const token = await sign(iss, events, { sub_id: { format: 'iss_sub', iss, sub: 'alice' } })
    expect((await push(token)).status).toBe(202)
    expect([await state('alice-1'), await state('bob-1')]).toEqual(['revoked', 'active'])
  })

  it('ends only the sessions that began at or before event_timestamp', async () => {
    const { push, iss, register, state, now } = await setUp()
    await register('before', 'alice', 'a', now - 600)
    await register('after', 'alice', 'b', now - 100)
    const events = sessionRevoked({ format: 'opaque', id: 'alice' }, { event_timestamp: now - 300 })
    expect((await push(await sign(iss, events))).status).toBe(202)
    expect([await state('before'), await state('after')]).toEqual(['revoked', 'active'])
    // Registered later, authenticated before the event: born revoked.
    await register('late', 'alice', 'c', now - 400)
    expect(await state('late')).toBe('revoked')
  })

  it('acts on a redelivered jti once: 202 again, audited replayed', async () => {
    const { push, iss, register, state, audit, now } = await setUp()
    await register('s1', 'alice', 'a', now - 600)
    const token = await sign(iss, sessionRevoked({ format: 'opaque', id: 'alice' }, { event_timestamp: now - 300 }))
    expect((await push(token)).status).toBe(202)
    expect((await push(token)).status).toBe(202)
    expect(await state('s1')).toBe('revoked')
    await expect
      .poll(async () => (await audit()).map((r: { outcome: string }) => r.outcome))
      .toEqual(['replayed', 'revoked'])
  })

  it('answers 202 to an unknown event and a subject matching no session, audited ignored and unmatched', async () => {
    const { push, iss, audit } = await setUp()
    const other = {
      'https://schemas.openid.net/secevent/caep/event-type/token-claims-change': {
        subject: { format: 'opaque', id: 'x' },
      },
    }
    expect((await push(await sign(iss, other))).status).toBe(202)
    expect(await push(await sign(iss, sessionRevoked({ format: 'opaque', id: 'nobody' })))).toMatchObject({
      status: 202,
    })
    await expect
      .poll(async () => (await audit()).map((r: { outcome: string; event?: string }) => [r.outcome, r.event]))
      .toEqual([
        ['unmatched', 'session-revoked'],
        ['ignored', 'other'],
      ])
  })

  describe('refuses a SET with 400, its RFC 8935 err and Content-Language: en', () => {
    const subject = { format: 'opaque', id: 'alice' }
    const cases: [string, (iss: string) => Promise<string>, string][] = [
      [
        'a bad signature',
        (iss) => sign(iss, sessionRevoked(subject), {}, {}, stranger.privateKey),
        'authentication_failed',
      ],
      [
        'an unknown kid',
        (iss) => sign(iss, sessionRevoked(subject), {}, { kid: 'rotated' }, stranger.privateKey),
        'invalid_key',
      ],
      [
        'a jku header',
        (iss) => sign(iss, sessionRevoked(subject), {}, { jku: 'https://evil.example/jwks' }),
        'invalid_key',
      ],
      ['wrong iss', () => sign('https://other.example.test', sessionRevoked(subject)), 'invalid_issuer'],
      [
        'aud without the audience',
        (iss) => sign(iss, sessionRevoked(subject), { aud: ['https://elsewhere'] }),
        'invalid_audience',
      ],
      ['no typ', (iss) => sign(iss, sessionRevoked(subject), {}, { typ: undefined }), 'invalid_request'],
      ['typ JWT', (iss) => sign(iss, sessionRevoked(subject), {}, { typ: 'JWT' }), 'invalid_request'],
      ['a top-level sub', (iss) => sign(iss, sessionRevoked(subject), { sub: 'alice' }), 'invalid_request'],
      ['an exp', (iss) => sign(iss, sessionRevoked(subject), { exp: 9_999_999_999 }), 'invalid_request'],
      ['no jti', (iss) => sign(iss, sessionRevoked(subject), { jti: undefined }), 'invalid_request'],
      ['no iat', (iss) => sign(iss, sessionRevoked(subject), { iat: undefined }), 'invalid_request'],
      [
        'two events',
        (iss) => sign(iss, { ...sessionRevoked(subject), [`${RISC}account-disabled`]: { subject } }),
        'invalid_request',
      ],
      ['alg none', async (iss) => `${unsignedHeader('none')}.${payloadOf(iss)}.`, 'invalid_key'],
      [
        'HS256',
        async (iss) =>
          new SignJWT(JSON.parse(Buffer.from(payloadOf(iss), 'base64url').toString()))
            .setProtectedHeader({ alg: 'HS256', typ: 'secevent+jwt' })
            .sign(new TextEncoder().encode('a-shared-secret-of-thirty-two-bytes!')),
        'invalid_key',
      ],
      ['a body that is no JWS', async () => 'not-a-set', 'invalid_request'],
    ]
    for (const [what, make, err] of cases) {
      it(`${what}: ${err}`, async () => {
        const { push, iss, register, state, admin } = await setUp()
        await register('s1', 'alice', 'a')
        const res = await push(await make(iss))
        expect(res.status).toBe(400)
        expect(res.headers.get('content-language')).toBe('en')
        expect(await res.json()).toMatchObject({ err, description: expect.any(String) })
        expect(await state('s1')).toBe('active')
        // Audited refused with its err.
        const refusals = async () =>
          (await admin.audit.list.query({})).filter((r) => r.source === 'ssf').map((r) => [r.outcome, r.err])
        await expect.poll(refusals).toEqual([['rejected', err]])
      })
    }

    it('an iat older than the 7 days a jti is remembered: invalid_request naming the rule', async () => {
      const { push, iss, register, state, now } = await setUp()
      await register('s1', 'alice', 'a', now - SET_REPLAY_SECONDS) // began before either SET
      const issuedAgo = async (seconds: number) =>
        push(await sign(iss, sessionRevoked(subject), { iat: Math.floor(Date.now() / 1000) - seconds }))
      const res = await issuedAgo(SET_REPLAY_SECONDS + 60)
      expect(res.status).toBe(400)
      expect(await res.json()).toMatchObject({ err: 'invalid_request', description: expect.stringMatching(/7 days/) })
      expect(await state('s1')).toBe('active')
      // Within the window, a late delivery is still acted on.
      expect((await issuedAgo(SET_REPLAY_SECONDS - 3600)).status).toBe(202)
      expect(await state('s1')).toBe('revoked')
    })

    it('a wrong Content-Type: invalid_request', async () => {
      const { push, iss } = await setUp()
      const res = await push(await sign(iss, sessionRevoked(subject)), { 'content-type': 'application/jwt' })
      expect(res.status).toBe(400)
      expect(await res.json()).toMatchObject({ err: 'invalid_request' })
    })

    it('a stream whose applications are gone: access_denied', async () => {
      const { push, iss, admin } = await setUp()
      await admin.apps.delete.mutate({ name: 'wiki' })
      const res = await push(await sign(iss, sessionRevoked(subject)))
      expect(res.status).toBe(400)
      expect(await res.json()).toMatchObject({ err: 'access_denied' })
    })
  })

  it('fetches the key set again once for an unknown kid, then answers invalid_key', async () => {
    const { push, iss, transmitter } = await setUp()
    expect((await push(await sign(iss, sessionRevoked({ format: 'opaque', id: 'x' })))).status).toBe(202)
    const before = transmitter.jwksFetches()
    setClockAhead(60) // past the 30 s cooldown since the first fetch
    const unknown = () =>
      sign(iss, sessionRevoked({ format: 'opaque', id: 'x' }), {}, { kid: 'new' }, stranger.privateKey)
    expect(await (await push(await unknown())).json()).toMatchObject({ err: 'invalid_key' })
    expect(await (await push(await unknown())).json()).toMatchObject({ err: 'invalid_key' })
    expect(transmitter.jwksFetches()).toBe(before + 1)
  })

  it('tries each key of a key set without kid: a SET signed by the second is accepted', async () => {
    const { push, iss, transmitter, register, state } = await setUp()
    await transmitter.publish([{ key: stranger.publicKey }, { key: signing.publicKey }])
    await register('s1', 'alice', 'a')
    const token = await sign(iss, sessionRevoked({ format: 'opaque', id: 'alice' }), {}, { kid: undefined })
    expect((await push(token)).status).toBe(202)
    expect(await state('s1')).toBe('revoked')
    // Signed by neither: the signature is what is wrong, not the key.
    const forged = await sign(
      iss,
      sessionRevoked({ format: 'opaque', id: 'alice' }),
      {},
      { kid: undefined },
      (await generateKeyPair('RS256')).privateKey,
    )
    expect(await (await push(forged)).json()).toMatchObject({ err: 'authentication_failed' })
  })

  it('shares its key set with an OIDC app of the same jwks_uri; a kid refused only by the cooldown that app armed is 503, then accepted', async () => {
    const { push, iss, transmitter, admin, url, register, state } = await setUp()
    await admin.apps.create.mutate({ name: 'portal', issuer: iss, clientId: 'portal' })
    const logout = async (kid: string, key = signing.privateKey) => {
      const token = await new SignJWT({
        iss,
        aud: 'portal',
        iat: Math.floor(Date.now() / 1000),
        exp: Math.floor(Date.now() / 1000) + 120,
        jti: nextJti(),
        sid: 'idp-session',
        events: { 'http://schemas.openid.net/event/backchannel-logout': {} },
      })
        .setProtectedHeader({ alg: 'RS256', typ: 'logout+jwt', kid })
        .sign(key)
      const body = new URLSearchParams({ logout_token: token })
      return fetch(`${url}/auth/logout/portal`, { method: 'POST', body })
    }
    expect((await push(await sign(iss, sessionRevoked({ format: 'opaque', id: 'x' })))).status).toBe(202)
    expect((await logout('k1')).status).toBe(200)
    expect(transmitter.jwksFetches()).toBe(1) // one fetch for the stream and the app

    // Past the cooldown, anyone posting a random kid to the app makes the gateway fetch again...
    setClockAhead(60)
    expect((await logout('random', stranger.privateKey)).status).toBe(400)
    expect(transmitter.jwksFetches()).toBe(2)
    // ...then the transmitter rotates a key in and signs with it, while the cooldown holds.
    await transmitter.publish([
      { key: signing.publicKey, kid: 'k1' },
      { key: stranger.publicKey, kid: 'k2' },
    ])
    await register('s1', 'alice', 'a')
    const iat = Math.floor(Date.now() / 1000) + 61 // after that fetch, on the gateway's clock
    const rotated = await sign(
      iss,
      sessionRevoked({ format: 'opaque', id: 'alice' }),
      { iat },
      { kid: 'k2' },
      stranger.privateKey,
    )
    const refused = await push(rotated)
    expect(refused.status).toBe(503)
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(5)
    expect(transmitter.jwksFetches()).toBe(2)
    expect(await state('s1')).toBe('active')

    setClockAhead(100) // the transmitter retries after Retry-After
    expect((await push(rotated)).status).toBe(202)
    expect(transmitter.jwksFetches()).toBe(3)
    expect(await state('s1')).toBe('revoked')
  })

  it('answers 503 with Retry-After when sessions cannot be revoked, and the retry then runs', async () => {
    let down = true
    // Your own session store (the gateway's `sessions` option), over the gateway's, unreachable at first.
    const { push, iss, register, state } = await setUp(sessionsDownWhile(() => down))
    await register('s1', 'alice', 'a')
    const token = await sign(iss, sessionRevoked({ format: 'opaque', id: 'alice' }))
    const res = await push(token)
    expect(res.status).toBe(503)
    expect(res.headers.get('retry-after')).toMatch(/^\d+$/)
    expect(await state('s1')).toBe('active')
    down = false
    // The claim on the jti was given back: the transmitter's retry is acted on.
    expect((await push(token)).status).toBe(202)
    expect(await state('s1')).toBe('revoked')
  })

  it('after a failure midway through its applications, the retry revokes and relays only what was not done', async () => {
    let down = true
    // The gateway's store, whose revocations for "blog" fail at first ("wiki" is revoked first).
    const sessions = (store: BackchannelStore): SessionStore =>
      new Proxy(store, {
        get(target, property) {
          if (property === 'revoke') {
            return (t: RevocationTarget) =>
              down && t.app === 'blog' ? Promise.reject(new Error('ECONNREFUSED')) : store.revoke(t)
          }
          const value = Reflect.get(target, property)
          return typeof value === 'function' ? value.bind(target) : value
        },
      })
    const { iss, store, admin, url, now } = await setUp(sessions)
    await admin.apps.create.mutate({ name: 'blog', policy: { issuer: iss } })
    for (const app of ['wiki', 'blog']) {
      await admin.apps.update.mutate({
        name: app,
        relays: [{ url: `http://127.0.0.1:9/${app}`, mode: 'sign', clientId: app }],
      })
      await store.register({ app, iss, sessionId: `${app}-1`, sub: 'alice', sid: `${app}-sid`, authTime: now - 600 })
    }
    const both = await admin.streams.create.mutate({ name: 'both', issuer: iss, apps: ['wiki', 'blog'] })
    const token = await sign(iss, sessionRevoked({ format: 'opaque', id: 'alice' }))
    const push = () =>
      fetch(`${url}/ssf/both`, {
        method: 'POST',
        headers: { 'content-type': 'application/secevent+jwt', authorization: both.authorizationHeader ?? '' },
        body: token,
      })
    expect((await push()).status).toBe(503)
    expect((await store.status('wiki', 'wiki-1')).state).toBe('revoked')
    expect((await store.status('blog', 'blog-1')).state).toBe('active')
    down = false
    expect((await push()).status).toBe(202)
    expect((await store.status('blog', 'blog-1')).state).toBe('revoked')
    // One delivery per application: wiki's was not written a second time.
    for (const app of ['wiki', 'blog']) expect(await admin.relays.list.query({ app })).toHaveLength(1)
  })

  it('acts on a redelivered SET whose first attempt failed and could not give its claim back', async () => {
    let down = true
    // Sessions and jtis in the gateway's store, unreachable at first: the claim is written, then
    // the revocation and the claim's release both fail.
    const sessions = sessionsDownWhile(() => down, { recorded: true })
    const replay = (store: BackchannelStore) => ({
      claim: (key: string, expiresAt: number) => store.claim(key, expiresAt),
      release: (key: string) => (down ? Promise.reject(new Error('ECONNREFUSED')) : store.release(key)),
    })
    const { push, iss, register, state, audit } = await setUp(sessions, { replay })
    await register('s1', 'alice', 'a')
    const token = await sign(iss, sessionRevoked({ format: 'opaque', id: 'alice' }))
    expect((await push(token)).status).toBe(503)
    down = false
    expect((await push(token)).status).toBe(202)
    expect(await state('s1')).toBe('revoked')
    await expect.poll(async () => (await audit()).map((r: { outcome: string }) => r.outcome)).toEqual(['revoked'])
    // Now recorded: a further redelivery is a replay.
    expect((await push(token)).status).toBe(202)
    await expect
      .poll(async () => (await audit()).map((r: { outcome: string }) => r.outcome))
      .toEqual(['replayed', 'revoked'])
  })
})

function unsignedHeader(alg: string): string {
  return Buffer.from(JSON.stringify({ alg, typ: 'secevent+jwt' })).toString('base64url')
}

function payloadOf(iss: string): string {
  const payload = {
    iss,
    aud: AUDIENCE,
    iat: Math.floor(Date.now() / 1000),
    jti: nextJti(),
    events: sessionRevoked({ format: 'opaque', id: 'alice' }),
  }
  return Buffer.from(JSON.stringify(payload)).toString('base64url')
}
