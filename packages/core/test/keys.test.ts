/** Key resolution: rotation, the unknown-kid cooldown, caching and outages, counted at the issuer. */
import { randomUUID } from 'node:crypto'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createKeyResolver, type KeyResolver, type KeyResolverOptions } from '../src/index.js'
import { createManualClock, type ManualClock } from '../src/testing/index.js'
import { codeOf, createTestGateway } from './fixtures/gateway.js'
import { createSigningKey, startIssuer, type TestIssuer } from './fixtures/issuer.js'

let idp: TestIssuer
let clock: ManualClock
beforeEach(async () => {
  idp = await startIssuer()
  clock = createManualClock(Date.now() / 1000)
})
afterEach(() => idp.close())

const jwksHits = () => idp.hits.get('/jwks') ?? 0
const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
const gatewayOnClock = (options: KeyResolverOptions = {}) =>
  createTestGateway([idp.app()], { now: clock.now, cooldown: 30, maxAge: 600, ...options })

describe('key resolution', () => {
  it('fetches the key set once and serves later tokens from the cache', async () => {
    const gw = gatewayOnClock()
    for (let i = 0; i < 20; i++) expect((await gw.post(await idp.sign())).status).toBe(200)
    expect(jwksHits()).toBe(1)
  })

  it('verifies a token signed by a key rotated in later, after one refetch', async () => {
    const gw = gatewayOnClock()
    expect((await gw.post(await idp.sign())).status).toBe(200)
    const rotated = await createSigningKey('RS256', 'rotated')
    idp.published.push(rotated)
    clock.advance(31) // past the cooldown of the first fetch
    const outcome = await gw.post(await idp.sign(idp.claims(), { key: rotated }))
    expect(outcome.status).toBe(200)
    expect(jwksHits()).toBe(2)
  })

  it('1,000 tokens with random unknown kids cause at most one refetch per cooldown', async () => {
    const gw = gatewayOnClock()
    expect((await gw.post(await idp.sign())).status).toBe(200)
    clock.advance(31)
    const stranger = await createSigningKey('RS256')
    const forged = await Promise.all(
      Array.from({ length: 1000 }, () => idp.sign(idp.claims(), { key: stranger, header: { kid: randomUUID() } })),
    )
    const outcomes = await Promise.all(forged.map((t) => gw.post(t)))
    expect(new Set(outcomes.map(codeOf))).toEqual(new Set(['ERR_LOGOUT_TOKEN_SIGNATURE']))
    expect(jwksHits()).toBe(2) // the first load and one refetch
    for (const token of forged.slice(0, 50)) await gw.post(token) // one at a time, within the cooldown
    expect(jwksHits()).toBe(2)

    clock.advance(31)
    await Promise.all(forged.slice(0, 100).map((t) => gw.post(t)))
    expect(jwksHits()).toBe(3) // one more once the cooldown has passed
  })

  it('asks for a retry (503) of a logout signed with a key rotated in while anyone holds the refetch cooldown', async () => {
    const gw = gatewayOnClock()
    expect((await gw.post(await idp.sign())).status).toBe(200)
    clock.advance(31)
    const stranger = await createSigningKey('RS256')
    const random = await idp.sign(idp.claims(), { key: stranger, header: { kid: randomUUID() } })
    expect(codeOf(await gw.post(random))).toBe('ERR_LOGOUT_TOKEN_SIGNATURE') // refetched: the cooldown is armed
    expect(jwksHits()).toBe(2)

    const rotated = await createSigningKey('RS256', 'rotated')
    idp.published.push(rotated)
    clock.advance(10)
    const logout = await idp.sign(idp.claims({ iat: Math.floor(clock.now()) }), { key: rotated })
    const refused = await gw.post(logout)
    expect(codeOf(refused)).toBe('ERR_KEYS_UNAVAILABLE')
    expect(refused.status).toBe(503)
    expect(refused.headers['retry-after']).toBe('20') // when the key set may be fetched again
    // A token issued before the key set was fetched names a key that set would hold: still refused.
    const older = await idp.sign(idp.claims({ iat: Math.floor(clock.now()) - 20 }), { key: stranger })
    expect(codeOf(await gw.post(older))).toBe('ERR_LOGOUT_TOKEN_SIGNATURE')
    expect(jwksHits()).toBe(2)

    clock.advance(20) // the IdP retries after Retry-After
    expect((await gw.post(logout)).status).toBe(200)
    expect(jwksHits()).toBe(3)
  })

  it('answers a logout whose kid is cached at once, while a refetch for an unknown kid is in flight', async () => {
    const fetches: boolean[] = []
    const gw = gatewayOnClock({ onFetch: ({ ok }) => fetches.push(ok) })
    expect((await gw.post(await idp.sign())).status).toBe(200)
    let arrived!: () => void
    const refetching = new Promise<void>((resolve) => (arrived = resolve))
    let release!: () => void
    const held = new Promise<void>((resolve) => (release = resolve))
    idp.route('/jwks', (_req, res) => {
      arrived()
      void held.then(() =>
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ keys: idp.published.map((k) => k.publicJwk) })),
      )
    })
    clock.advance(31)
    const stranger = await createSigningKey('RS256')
    const random = gw.post(await idp.sign(idp.claims(), { key: stranger, header: { kid: randomUUID() } }))
    await refetching

    expect((await gw.post(await idp.sign())).status).toBe(200)
    expect(fetches).toEqual([true]) // answered while the refetch was still held open
    release()
    expect(codeOf(await random)).toBe('ERR_LOGOUT_TOKEN_SIGNATURE')
    expect(fetches).toEqual([true, true])
  })

  it('shares one key set between every app of an issuer', async () => {
    const gw = createTestGateway([idp.app({ name: 'one' }), idp.app({ name: 'two' })], { now: clock.now })
    expect((await gw.post(await idp.sign(), { app: 'one' })).status).toBe(200)
    expect((await gw.post(await idp.sign(), { app: 'two' })).status).toBe(200)
    expect(jwksHits()).toBe(1)
  })

  it('refreshes the key set after maxAge', async () => {
    const gw = gatewayOnClock()
    await gw.post(await idp.sign())
    clock.advance(601)
    expect((await gw.post(await idp.sign())).status).toBe(200)
    expect(jwksHits()).toBe(2)
  })

  it('keeps serving cached keys when a refresh fails', async () => {
    const gw = gatewayOnClock()
    await gw.post(await idp.sign())
    idp.route('/jwks', (_req, res) => res.writeHead(500).end())
    clock.advance(601)
    expect((await gw.post(await idp.sign())).status).toBe(200)
  })

  it('answers 503 ERR_KEYS_UNAVAILABLE, with Retry-After, when no keys can be loaded', async () => {
    idp.route('/jwks', (_req, res) => res.writeHead(502).end())
    const gw = gatewayOnClock()
    const outcome = await gw.post(await idp.sign())
    expect(codeOf(outcome)).toBe('ERR_KEYS_UNAVAILABLE')
    expect(outcome.status).toBe(503)
    expect(outcome.headers['retry-after']).toBe('5')
    expect(outcome.body?.error).toBe('temporarily_unavailable')
    // Where the keys live is for the logs (the cause), not for whoever posted the token.
    expect(JSON.stringify(outcome.body)).not.toContain(idp.jwksUri)
    expect(outcome.error?.cause).toMatchObject({ message: `${idp.jwksUri} answered HTTP 502` })
  })

  it('answers 503 when the key set is not valid JSON, and reports every fetch', async () => {
    idp.route('/jwks', (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"keys": ['))
    const fetches: boolean[] = []
    const gw = gatewayOnClock({ onFetch: ({ ok }) => fetches.push(ok) })
    expect(codeOf(await gw.post(await idp.sign()))).toBe('ERR_KEYS_UNAVAILABLE')
    expect(fetches).toEqual([false])
  })

  it('while the key set fails and none is cached, fetches it at most once per cooldown', async () => {
    idp.route('/jwks', (_req, res) => res.writeHead(500).end())
    const gw = gatewayOnClock()
    const junk = `${b64url({ alg: 'RS256' })}.${b64url({})}.AAAA` // anyone can post this
    const first = await gw.post(junk)
    expect(codeOf(first)).toBe('ERR_KEYS_UNAVAILABLE')
    for (let i = 0; i < 19; i++) {
      clock.advance(1)
      const outcome = await gw.post(junk)
      expect(codeOf(outcome)).toBe('ERR_KEYS_UNAVAILABLE')
      expect(outcome.status).toBe(503)
      expect(outcome.headers['retry-after']).toBe(String(30 - (i + 1))) // until the cooldown ends
    }
    expect(jwksHits()).toBe(1)

    clock.advance(11) // past the cooldown: the issuer is asked again, once
    await Promise.all(Array.from({ length: 20 }, () => gw.post(junk)))
    expect(jwksHits()).toBe(2)
  })

  it('refuses a key set larger than the size cap', async () => {
    idp.route('/jwks', (_req, res) =>
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ keys: [], pad: 'x'.repeat(4096) })),
    )
    const keys: KeyResolver = createKeyResolver({ fetchPolicy: { allowInsecure: true, maxBytes: 1024 } })
    await expect(keys.getKeys(idp.jwksUri, { alg: 'RS256' })).rejects.toMatchObject({
      code: 'ERR_KEYS_UNAVAILABLE',
      cause: { code: 'ERR_ISSUER_RESPONSE_TOO_LARGE' },
    })
  })
})
