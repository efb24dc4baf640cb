/** Non-OIDC applications: tokens the application's backend MACs with the secret the gateway issued. */
import { randomBytes } from 'node:crypto'
import { SignJWT } from 'jose'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { BACKCHANNEL_LOGOUT_EVENT, type HmacApp } from '../src/index.js'
import { codeOf, createTestGateway } from './fixtures/gateway.js'
import { createSigningKey, type SigningKey } from './fixtures/issuer.js'

const current = randomBytes(32)
const previous = randomBytes(32)
const now = () => Math.floor(Date.now() / 1000)
let rsa: SigningKey
beforeAll(async () => {
  rsa = await createSigningKey('RS256')
})

const hmacApp = (overrides: Partial<HmacApp> = {}): HmacApp => ({
  kind: 'hmac',
  name: 'legacy-app',
  secrets: [{ key: current }, { key: previous, notAfter: now() + 60 }],
  ...overrides,
})

const mint = (claims: Record<string, unknown>, { alg = 'HS256', key = current as Uint8Array } = {}) =>
  new SignJWT(claims).setProtectedHeader({ alg }).sign(key)

let gw: ReturnType<typeof createTestGateway>
const register = (sessionId: string, sub = 'user-42', iss = '') =>
  gw.store.register({ app: 'legacy-app', iss, sessionId, sub })
const state = async (sessionId: string) => (await gw.store.status('legacy-app', sessionId)).state

beforeEach(() => {
  gw = createTestGateway([
    hmacApp(),
    hmacApp({ name: 'strict', policy: { issuer: 'https://legacy.example', audience: 'gateway' } }),
    hmacApp({ name: 'hs256-only', algorithms: ['HS256'] }),
  ])
})
afterAll(() => {})

describe('HMAC applications', () => {
  it('the curl example: only sub and iat, HS256 → every session of that user revoked', async () => {
    await register('a')
    await register('b')
    await register('other', 'user-7')
    const outcome = await gw.post(await mint({ sub: 'user-42', iat: now() }))
    expect(outcome).toMatchObject({ status: 200, revoked: 2 })
    expect([await state('a'), await state('b'), await state('other')]).toEqual(['revoked', 'revoked', 'active'])
  })

  for (const alg of ['HS256', 'HS384', 'HS512']) {
    it(`accepts ${alg} with the current secret`, async () => {
      expect((await gw.post(await mint({ sub: 'u', iat: now() }, { alg }))).status).toBe(200)
    })
  }

  it('accepts the previous secret during its grace only', async () => {
    const token = await mint({ sub: 'u', iat: now() }, { key: previous })
    expect((await gw.post(token)).status).toBe(200)
    gw.registry.set('legacy-app', hmacApp({ secrets: [{ key: current }, { key: previous, notAfter: now() - 1 }] }))
    expect(codeOf(await gw.post(token))).toBe('ERR_LOGOUT_TOKEN_SIGNATURE')
  })

  it('rejects a token MACed with another secret', async () => {
    expect(codeOf(await gw.post(await mint({ sub: 'u', iat: now() }, { key: randomBytes(32) })))).toBe(
      'ERR_LOGOUT_TOKEN_SIGNATURE',
    )
  })

  it('rejects an RS256 token', async () => {
    const token = await new SignJWT({ sub: 'u', iat: now() }).setProtectedHeader({ alg: 'RS256' }).sign(rsa.privateKey)
    expect(codeOf(await gw.post(token))).toBe('ERR_LOGOUT_TOKEN_ALG')
  })

  it('rejects an algorithm the app does not pin', async () => {
    const token = await mint({ sub: 'u', iat: now() }, { alg: 'HS512' })
    expect(codeOf(await gw.post(token, { app: 'hs256-only' }))).toBe('ERR_LOGOUT_TOKEN_ALG')
  })

  it('requires at least one of iat and exp', async () => {
    const outcome = await gw.post(await mint({ sub: 'u' }))
    expect(codeOf(outcome)).toBe('ERR_LOGOUT_TOKEN_CLAIM')
    expect(outcome.error).toMatchObject({ claim: 'iat/exp' })
  })

  it('accepts exp alone when it lies within the maximum age, and refuses one far ahead', async () => {
    expect((await gw.post(await mint({ sub: 'u', exp: now() + 120 }))).status).toBe(200)
    expect(codeOf(await gw.post(await mint({ sub: 'u', exp: now() + 86400 })))).toBe('ERR_LOGOUT_TOKEN_CLAIM')
  })

  it('rejects an expired token and an old one', async () => {
    expect(codeOf(await gw.post(await mint({ sub: 'u', exp: now() - 120 })))).toBe('ERR_LOGOUT_TOKEN_EXPIRED')
    expect(codeOf(await gw.post(await mint({ sub: 'u', iat: now() - 3600 })))).toBe('ERR_LOGOUT_TOKEN_EXPIRED')
  })

  it('requires sub or sid, and rejects nonce', async () => {
    expect(codeOf(await gw.post(await mint({ iat: now() })))).toBe('ERR_LOGOUT_TOKEN_CLAIM')
    expect(codeOf(await gw.post(await mint({ sub: 'u', iat: now(), nonce: 'n' })))).toBe('ERR_LOGOUT_TOKEN_CLAIM')
  })

  it('checks events when present', async () => {
    expect(codeOf(await gw.post(await mint({ sub: 'u', iat: now(), events: [] })))).toBe('ERR_LOGOUT_TOKEN_CLAIM')
    const events = { [BACKCHANNEL_LOGOUT_EVENT]: {} }
    expect((await gw.post(await mint({ sub: 'u', iat: now(), events }))).status).toBe(200)
  })

  it('checks iss and aud when the app configures them, and keeps sessions under that issuer', async () => {
    const ok = { sub: 'u', iat: now(), iss: 'https://legacy.example', aud: 'gateway' }
    await gw.store.register({ app: 'strict', iss: 'https://legacy.example', sessionId: 's', sub: 'u' })
    expect(await gw.post(await mint(ok), { app: 'strict' })).toMatchObject({ status: 200, revoked: 1 })
    expect(codeOf(await gw.post(await mint({ ...ok, iss: 'https://other' }), { app: 'strict' }))).toBe(
      'ERR_LOGOUT_TOKEN_ISSUER',
    )
    expect(codeOf(await gw.post(await mint({ ...ok, aud: 'nope' }), { app: 'strict' }))).toBe(
      'ERR_LOGOUT_TOKEN_AUDIENCE',
    )
    expect(codeOf(await gw.post(await mint({ sub: 'u', iat: now() }), { app: 'strict' }))).toBe(
      'ERR_LOGOUT_TOKEN_ISSUER',
    )
  })

  it('ignores an unchecked iss: sessions of an app without an issuer are kept under ""', async () => {
    await register('a')
    const outcome = await gw.post(await mint({ sub: 'user-42', iat: now(), iss: 'anything' }))
    expect(outcome).toMatchObject({ status: 200, revoked: 1, token: { iss: '' } })
  })

  it('guards replay of a token without jti: resent, it does not end sessions begun since', async () => {
    const token = await mint({ sub: 'user-42', iat: now() })
    await register('a')
    expect(await gw.post(token)).toMatchObject({ status: 200, revoked: 1 })
    await register('b') // a login after the logout
    expect(await gw.post(token)).toMatchObject({ status: 200, replayed: true, revoked: 0 })
    expect(await state('b')).toBe('active')
    // Another token of the same user is no replay.
    expect(await gw.post(await mint({ sub: 'user-42', iat: now(), nbf: now() - 1 }))).toMatchObject({ revoked: 1 })
  })

  it('guards replay when the token has a jti', async () => {
    const token = await mint({ sub: 'user-42', iat: now(), jti: 'once' })
    await register('a')
    expect(await gw.post(token)).toMatchObject({ status: 200, revoked: 1 })
    expect(await gw.post(token)).toMatchObject({ status: 200, replayed: true, revoked: 0 })
  })
})
