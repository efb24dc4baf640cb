/** The logout flow's request handling, replay, and failures of its dependencies. */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import {
  createLogoutHandler,
  MAX_BODY_BYTES,
  processLogoutRequest,
  type ReplayStore,
  type RevocationTarget,
  replayKey,
  type SessionRevoker,
} from '../src/index.js'
import { codeOf, createTestGateway } from './fixtures/gateway.js'
import { startIssuer, type TestIssuer } from './fixtures/issuer.js'

let idp: TestIssuer
let gw: ReturnType<typeof createTestGateway>
beforeAll(async () => {
  idp = await startIssuer()
})
afterAll(() => idp.close())
beforeEach(async () => {
  gw = createTestGateway([idp.app()])
  await gw.store.register({ app: 'app', iss: idp.url, sessionId: 's1', sub: 'user-1', sid: 'sid-1' })
})

const state = async (sessionId: string) => (await gw.store.status('app', sessionId)).state
const now = () => Math.floor(Date.now() / 1000)

describe('the request', () => {
  it('400 when logout_token is missing', async () => {
    const outcome = await gw.post(undefined, { extra: 'other=1' })
    expect(outcome).toMatchObject({ status: 400, body: { error: 'invalid_request' } })
    expect(codeOf(outcome)).toBe('ERR_REQUEST_INVALID')
    expect(outcome.body?.error_description).toContain('logout_token is missing')
  })

  it('400 when logout_token appears twice', async () => {
    const token = await idp.sign()
    const outcome = await gw.post(token, { extra: `&logout_token=${token}` })
    expect(codeOf(outcome)).toBe('ERR_REQUEST_INVALID')
    expect(outcome.body?.error_description).toContain('exactly once')
  })

  it('400 when the body is not form-encoded, or empty', async () => {
    const token = await idp.sign()
    expect(codeOf(await gw.post(token, { contentType: 'application/json' }))).toBe('ERR_REQUEST_INVALID')
    expect(codeOf(await gw.post(undefined))).toBe('ERR_REQUEST_INVALID')
    expect((await gw.post(token, { contentType: 'application/x-www-form-urlencoded; charset=UTF-8' })).status).toBe(200)
  })

  it('413 when the body is larger than 16 KiB', async () => {
    const outcome = await gw.post('x'.repeat(MAX_BODY_BYTES + 1))
    expect(outcome.status).toBe(413)
    expect(codeOf(outcome)).toBe('ERR_REQUEST_TOO_LARGE')
  })

  it('404 for an unknown application', async () => {
    const outcome = await gw.post(await idp.sign(), { app: 'nope' })
    expect(outcome).toMatchObject({ status: 404, body: { error: 'invalid_request' } })
    expect(codeOf(outcome)).toBe('ERR_APP_UNKNOWN')
  })

  it('names the application in the outcome only once it is found registered', async () => {
    // Metrics and audit records are keyed by outcome.app: a made-up name must never reach them.
    expect(await gw.post(await idp.sign(), { app: 'ghost' })).toMatchObject({ status: 404, app: '' })
    // The application is looked up before the body is judged: an unknown one is 404 whatever the body.
    const json = await gw.post(await idp.sign(), { app: 'ghost', contentType: 'application/json' })
    expect(json).toMatchObject({ status: 404, app: '' })
    expect(await gw.post('x'.repeat(MAX_BODY_BYTES + 1), { app: 'ghost' })).toMatchObject({ status: 413, app: '' })
    const get = await processLogoutRequest(new Request('http://gw.test/auth/logout/ghost'), 'ghost', gw.deps)
    expect(get).toMatchObject({ status: 405, app: '' })
    // A registered application's refusals carry its name.
    expect(await gw.post(await idp.sign(), { contentType: 'application/json' })).toMatchObject({
      status: 400,
      app: 'app',
    })
    expect(await gw.post('not-a-jws')).toMatchObject({ status: 400, app: 'app' })
  })
})

describe('replay (BCL §2.5)', () => {
  it('answers a resent token 200 without revoking again, even sessions created after the first logout', async () => {
    const token = await idp.sign(idp.claims({ sid: undefined, sub: 'user-1', iat: now() - 5 }))
    expect(await gw.post(token)).toMatchObject({ status: 200, revoked: 1 })
    await gw.store.register({ app: 'app', iss: idp.url, sessionId: 's2', sub: 'user-1', authTime: now() })
    expect(await gw.post(token)).toMatchObject({ status: 200, replayed: true, revoked: 0 })
    expect(await state('s2')).toBe('active')
  })

  // The process stopped between the replay claim and the revocation: the claim was stored, the
  // revocation was not, and the identity provider retries.
  const claimedBeforeACrash = async (claims: Record<string, unknown>) => {
    await gw.store.claim(replayKey('app', idp.url, claims.jti as string), now() + 120)
    return idp.sign(claims)
  }

  it('processes a claimed token whose logout was never recorded, instead of answering "replayed"', async () => {
    const token = await claimedBeforeACrash(idp.claims({ sid: 'sid-1', sub: 'user-1' }))
    const outcome = await gw.post(token)
    expect(outcome).toMatchObject({ status: 200, revoked: 1 })
    expect(outcome.replayed).toBeUndefined()
    expect(await state('s1')).toBe('revoked')
    expect(await gw.post(token)).toMatchObject({ status: 200, replayed: true, revoked: 0 })
  })

  it('a subject-wide token is recorded only by a watermark at or after its iat', async () => {
    await gw.post(await idp.sign(idp.claims({ sid: undefined, sub: 'user-1', iat: now() - 60 })))
    await gw.store.register({ app: 'app', iss: idp.url, sessionId: 's2', sub: 'user-1', authTime: now() - 30 })
    const later = await claimedBeforeACrash(idp.claims({ sid: undefined, sub: 'user-1', iat: now() - 10 }))
    expect(await gw.post(later)).toMatchObject({ status: 200, revoked: 1 })
    expect(await state('s2')).toBe('revoked')
  })

  it('a resent token racing the first attempt waits for it, then is answered as a replay: one revocation', async () => {
    const { store } = gw
    let revocations = 0
    gw.deps.revoker = {
      async revoke(target) {
        revocations++
        await new Promise((resolve) => setTimeout(resolve, 100))
        return store.revoke(target)
      },
      recorded: store.recorded,
    } satisfies SessionRevoker
    const token = await idp.sign(idp.claims({ sid: 'sid-1', sub: 'user-1' }))
    // Either may claim first: whichever finishes verifying.
    const outcomes = await Promise.all([gw.post(token), gw.post(token)])
    expect(outcomes.map((o) => o.status)).toEqual([200, 200])
    expect(outcomes.find((o) => !o.replayed)).toMatchObject({ revoked: 1 })
    expect(outcomes.find((o) => o.replayed)).toMatchObject({ revoked: 0 })
    expect(revocations).toBe(1)
  })

  it('with a revoker that cannot tell (no recorded()), a claimed token is answered as a replay', async () => {
    const { store } = gw
    gw.deps.revoker = { revoke: (target) => store.revoke(target) } satisfies SessionRevoker
    const token = await claimedBeforeACrash(idp.claims())
    expect(await gw.post(token)).toMatchObject({ status: 200, replayed: true, revoked: 0 })
    expect(await state('s1')).toBe('active')
  })

  it('an unknown session is still a success', async () => {
    expect(await gw.post(await idp.sign(idp.claims({ sid: 'never-seen' })))).toMatchObject({ status: 200, revoked: 0 })
  })
})

describe('one store that is both revoker and replay store', () => {
  /** The test store, recording which of its write methods the flow calls. */
  const counting = () => {
    const { store } = gw
    const { claimAndRevoke } = store
    if (!claimAndRevoke) throw new Error('the reference store should claim and revoke in one call')
    const calls: string[] = []
    const counted: typeof store = {
      ...store,
      claim(...args) {
        calls.push('claim')
        return store.claim(...args)
      },
      revoke(...args) {
        calls.push('revoke')
        return store.revoke(...args)
      },
      claimAndRevoke(...args) {
        calls.push('claimAndRevoke')
        return claimAndRevoke(...args)
      },
    }
    return { counted, calls }
  }

  it('claims and revokes in one call (claimAndRevoke) when given no replay store, and answers its resend as a replay', async () => {
    const { counted, calls } = counting()
    Object.assign(gw.deps, { revoker: counted, replay: undefined })
    const token = await idp.sign(idp.claims({ sid: 'sid-1', sub: 'user-1' }))
    const outcomes = await Promise.all([gw.post(token), gw.post(token)])
    expect(outcomes.find((o) => !o.replayed)).toMatchObject({ status: 200, revoked: 1 })
    expect(outcomes.find((o) => o.replayed)).toMatchObject({ status: 200, revoked: 0 })
    expect(calls).toEqual(['claimAndRevoke', 'claimAndRevoke'])
    expect(await state('s1')).toBe('revoked')
  })

  it('claims, then revokes, when given a replay store, even the revoker itself', async () => {
    const { counted, calls } = counting()
    Object.assign(gw.deps, { revoker: counted, replay: counted })
    expect(await gw.post(await idp.sign())).toMatchObject({ status: 200, revoked: 1 })
    expect(calls).toEqual(['claim', 'revoke'])
  })

  it('claims, then revokes, on a revoker without claimAndRevoke when given no replay store', async () => {
    const { counted, calls } = counting()
    Object.assign(gw.deps, { revoker: { ...counted, claimAndRevoke: undefined }, replay: undefined })
    expect(await gw.post(await idp.sign())).toMatchObject({ status: 200, revoked: 1 })
    expect(calls).toEqual(['claim', 'revoke'])
  })

  it('500 when given no replay store and the revoker is none', async () => {
    Object.assign(gw.deps, { revoker: { revoke: gw.store.revoke }, replay: undefined })
    expect(codeOf(await gw.post(await idp.sign()))).toBe('ERR_INTERNAL')
    expect(await state('s1')).toBe('active')
  })

  it('503 when claimAndRevoke fails; no claim is kept, so the retry is processed', async () => {
    const { store } = gw
    gw.deps.replay = undefined
    const { claimAndRevoke } = store
    store.claimAndRevoke = () => Promise.reject(new Error('ECONNRESET'))
    const token = await idp.sign()
    expect(codeOf(await gw.post(token))).toBe('ERR_STORE_UNAVAILABLE')
    expect(await state('s1')).toBe('active')
    store.claimAndRevoke = claimAndRevoke
    expect(await gw.post(token)).toMatchObject({ status: 200, revoked: 1 })
  })
})

describe('dependencies that fail', () => {
  const down = () => Promise.reject(new Error('ECONNREFUSED'))

  it('503 when the app registry is down', async () => {
    gw.deps.apps = { get: down }
    const outcome = await gw.post(await idp.sign())
    expect(outcome).toMatchObject({ status: 503, headers: { 'retry-after': '5', 'cache-control': 'no-store' } })
    expect(codeOf(outcome)).toBe('ERR_STORE_UNAVAILABLE')
  })

  it('503 when the replay store is down; nothing is revoked', async () => {
    gw.deps.replay = { claim: down, release: down } satisfies ReplayStore
    const outcome = await gw.post(await idp.sign())
    expect(codeOf(outcome)).toBe('ERR_STORE_UNAVAILABLE')
    expect(await state('s1')).toBe('active')
  })

  it('503 when the revoker fails, and the claim is given back so the retry is processed', async () => {
    const working = gw.deps.revoker
    gw.deps.revoker = { revoke: down } satisfies SessionRevoker
    const token = await idp.sign()
    const failed = await gw.post(token)
    expect(failed.status).toBe(503)
    expect(codeOf(failed)).toBe('ERR_STORE_UNAVAILABLE')
    expect(failed.error?.cause).toBeInstanceOf(Error)

    gw.deps.revoker = working
    expect(await gw.post(token)).toMatchObject({ status: 200, revoked: 1 })
    expect(await state('s1')).toBe('revoked')
  })

  it('503 when asking whether a claimed token was recorded fails; the claim is kept', async () => {
    const { store } = gw
    gw.deps.revoker = { revoke: (target) => store.revoke(target), recorded: down } satisfies SessionRevoker
    const claims = idp.claims()
    const key = replayKey('app', idp.url, claims.jti as string)
    await store.claim(key, now() + 120)
    expect(codeOf(await gw.post(await idp.sign(claims)))).toBe('ERR_STORE_UNAVAILABLE')
    expect(await store.claim(key, now() + 120)).toBe(false)
    expect(await state('s1')).toBe('active')
  })

  it('reports a claim that could not be given back, and still answers 503', async () => {
    const errors: unknown[] = []
    Object.assign(gw.deps, {
      revoker: { revoke: down },
      replay: { claim: async () => true, release: down },
      onError: (e: unknown) => errors.push(e),
    })
    expect((await gw.post(await idp.sign())).status).toBe(503)
    expect(errors).toHaveLength(1)
  })

  it('500 without details when something unexpected breaks', async () => {
    gw.deps.verifier = { verify: () => Promise.reject(new TypeError('bug')) }
    const outcome = await gw.post(await idp.sign())
    expect(outcome).toMatchObject({ status: 500, body: { error: 'server_error' } })
    expect(codeOf(outcome)).toBe('ERR_INTERNAL')
  })
})

describe('createLogoutHandler (Request → Response)', () => {
  const handler = () => createLogoutHandler(gw.deps)
  const form = (token: string) =>
    new Request('http://gw.test/auth/logout/app', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ logout_token: token }),
    })

  it('answers 200 with Cache-Control: no-store and an empty body, taking the app from the path', async () => {
    const res = await handler()(form(await idp.sign()))
    expect(res.status).toBe(200)
    expect(res.headers.get('cache-control')).toBe('no-store')
    expect(await res.text()).toBe('')
    expect(await state('s1')).toBe('revoked')
  })

  it('answers 405 with Allow: POST to other methods', async () => {
    const res = await handler()(new Request('http://gw.test/auth/logout/app'))
    expect(res.status).toBe(405)
    expect(res.headers.get('allow')).toBe('POST')
    expect(res.headers.get('cache-control')).toBe('no-store')
  })

  it('answers 413 to a streamed body over 16 KiB', async () => {
    const big = new ReadableStream({
      start(controller) {
        for (let i = 0; i < 64; i++) controller.enqueue(new TextEncoder().encode('x'.repeat(1024)))
        controller.close()
      },
    })
    expect((await handler()(streamedLogout(big))).status).toBe(413)
  })

  it('answers 400 to a body that cannot be read (the client went away), in the status table', async () => {
    const aborted = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('logout_token='))
        controller.error(new Error('aborted'))
      },
    })
    const outcome = await processLogoutRequest(streamedLogout(aborted), 'app', gw.deps)
    expect(outcome).toMatchObject({ status: 400, headers: { 'cache-control': 'no-store' } })
    expect(codeOf(outcome)).toBe('ERR_REQUEST_INVALID')
    expect(outcome.body?.error_description).toBe('the body could not be read')
  })

  it('measures a body in bytes as sent: 16 KiB of invalid UTF-8 is a 400, not a 413', async () => {
    // Decoding turns each invalid byte into U+FFFD, 3 bytes when encoded again.
    const bytes = new Uint8Array(MAX_BODY_BYTES).fill(0xff)
    bytes.set(new TextEncoder().encode('logout_token='))
    const sized = new Request('http://gw.test/auth/logout/app', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(bytes.byteLength) },
      body: bytes,
    })
    const streamed = new Request('http://gw.test/auth/logout/app', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new Blob([bytes]).stream(),
      duplex: 'half',
    } as RequestInit)
    for (const req of [sized, streamed]) {
      const outcome = await processLogoutRequest(req, 'app', gw.deps)
      expect(outcome.status).toBe(400)
      expect(codeOf(outcome)).toBe('ERR_LOGOUT_TOKEN_MALFORMED')
    }
  })

  it('answers JSON errors that name the rule and never echo the token', async () => {
    const token = await idp.sign(idp.claims({ aud: 'someone-else' }))
    const res = await handler()(form(token))
    expect(res.status).toBe(400)
    expect(res.headers.get('content-type')).toBe('application/json')
    const body = await res.json()
    expect(body).toEqual({ error: 'invalid_request', error_description: 'aud is not this application' })
    expect(JSON.stringify(body)).not.toContain(token)
  })

  it('takes the app name from an option, and reports every outcome', async () => {
    const seen: number[] = []
    const logout = createLogoutHandler({ ...gw.deps, app: () => 'app', onOutcome: (o) => seen.push(o.status) })
    const req = new Request('http://gw.test/somewhere/else', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `logout_token=${await idp.sign()}`,
    })
    expect((await logout(req)).status).toBe(200)
    expect(seen).toEqual([200])
  })
})

describe('relays', () => {
  const relays = [
    { url: 'https://a.example.com/bcl', mode: 'forward' as const },
    { url: 'https://b.example.com/bcl', mode: 'sign' as const, clientId: 'b' },
  ]

  it("hands the revoker the app's relays with the IdP's token, byte for byte, and its exp", async () => {
    const targets: RevocationTarget[] = []
    gw = createTestGateway([{ ...idp.app(), relays }])
    Object.assign(gw.deps, {
      revoker: {
        relayOutbox: true,
        revoke: async (t: RevocationTarget) => {
          targets.push(t)
          return { revoked: 0 }
        },
      },
    })
    const exp = now() + 90
    const token = await idp.sign(idp.claims({ exp }))
    expect((await gw.post(token)).status).toBe(200)
    expect(targets[0]?.relay).toEqual({ relays, token, expiresAt: exp })
  })

  it('relays an IdP session once in RELAY_ONCE_SECONDS, the claim given back when the revocation fails', async () => {
    const targets: RevocationTarget[] = []
    let down = true
    gw = createTestGateway([{ ...idp.app(), relays }])
    Object.assign(gw.deps, {
      revoker: {
        relayOutbox: true,
        revoke: async (t: RevocationTarget) => {
          if (down) throw new Error('ECONNREFUSED')
          targets.push(t)
          return { revoked: 0 }
        },
      },
    })
    const first = await idp.sign()
    expect((await gw.post(first)).status).toBe(503)
    down = false
    // The failed attempt's claim was given back: its retry relays.
    expect((await gw.post(first)).status).toBe(200)
    expect(targets.map((t) => t.relay !== undefined)).toEqual([true])
    // Another report of sid-1 (a new token, or a SET) revokes without relaying; sid-2 relays.
    expect((await gw.post(await idp.sign())).status).toBe(200)
    expect((await gw.post(await idp.sign(idp.claims({ sid: 'sid-2' })))).status).toBe(200)
    expect(targets.map((t) => [t.sid, t.relay !== undefined])).toEqual([
      ['sid-1', true],
      ['sid-1', false],
      ['sid-2', true],
    ])
  })

  it('refuses, before anything is written, a logout whose relays the revoker cannot store', async () => {
    gw = createTestGateway([{ ...idp.app(), relays }])
    await gw.store.register({ app: 'app', iss: idp.url, sessionId: 's1', sub: 'user-1', sid: 'sid-1' })
    const outcome = await gw.post(await idp.sign())
    expect(outcome.status).toBe(500)
    expect(codeOf(outcome)).toBe('ERR_RELAYS_UNSUPPORTED')
    expect(outcome.error?.message).toContain("relays need the gateway's store")
    expect(await state('s1')).toBe('active')
  })
})

/** A logout POST whose form body is streamed (no length known in advance). */
function streamedLogout(body: ReadableStream<Uint8Array>): Request {
  return new Request('http://gw.test/auth/logout/app', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body,
    duplex: 'half',
  } as RequestInit)
}
