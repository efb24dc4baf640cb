/**
 * The OpenID conformance suite's relying-party back-channel cases and every extra case of
 * `logout-token-rules.md`, through the logout flow, with the issuer's discovery document and JWKS
 * served over real HTTP on loopback.
 */
import { base64url, CompactSign } from 'jose'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { BACKCHANNEL_LOGOUT_EVENT } from '../src/index.js'
import { codeOf, createTestGateway } from './fixtures/gateway.js'
import { CLIENT_ID, createSigningKey, type SigningKey, startIssuer, type TestIssuer } from './fixtures/issuer.js'

let idp: TestIssuer
let es256: SigningKey
let gw: ReturnType<typeof createTestGateway>

beforeAll(async () => {
  idp = await startIssuer()
  es256 = await createSigningKey('ES256')
  idp.published.push(es256) // in the JWKS, but the app pins RS256
})
afterAll(() => idp.close())
beforeEach(async () => {
  gw = createTestGateway([idp.app(), idp.app({ name: 'legacy', policy: { allowMissingExp: true } })])
  await gw.store.register({ app: 'app', iss: idp.url, sessionId: 'session-1', sub: 'user-1', sid: 'sid-1' })
})

async function expectRejected(token: string, code: string, app = 'app') {
  const outcome = await gw.post(token, { app })
  expect(codeOf(outcome)).toBe(code)
  expect(outcome.status).toBe(400)
  expect(outcome.headers['cache-control']).toBe('no-store')
  expect(outcome.body?.error).toBe('invalid_request')
  expect(outcome.body?.error_description).not.toContain(token)
  expect((await gw.store.status('app', 'session-1')).state).toBe('active')
  return outcome
}

const now = () => Math.floor(Date.now() / 1000)
const event = { [BACKCHANNEL_LOGOUT_EVENT]: {} }

describe('OpenID conformance suite: rp-backchannel-*', () => {
  it('rp-backchannel-rpinitlogout: no typ header, an unknown claim and an extra form field → 200', async () => {
    const token = await idp.sign(idp.claims({ unknown_claim: 'ignored' }), { header: { typ: undefined } })
    const outcome = await gw.post(token, { extra: '&state=xyz' })
    expect(outcome).toMatchObject({ status: 200, revoked: 1, headers: { 'cache-control': 'no-store' } })
    expect(outcome.body).toBeUndefined()
    expect((await gw.store.status('app', 'session-1')).state).toBe('revoked')
  })

  it('rp-backchannel-rpinitlogout-alg-none: alg none with an empty signature → 400', async () => {
    const header = base64url.encode(JSON.stringify({ alg: 'none', typ: 'logout+jwt' }))
    const payload = base64url.encode(JSON.stringify(idp.claims()))
    await expectRejected(`${header}.${payload}.`, 'ERR_LOGOUT_TOKEN_ALG')
  })

  it('rp-backchannel-rpinitlogout-no-event: events removed → 400', async () => {
    const outcome = await expectRejected(await idp.sign(idp.claims({ events: undefined })), 'ERR_LOGOUT_TOKEN_CLAIM')
    expect(outcome.error).toMatchObject({ claim: 'events' })
  })

  it('rp-backchannel-rpinitlogout-with-nonce: nonce added → 400', async () => {
    const outcome = await expectRejected(
      await idp.sign(idp.claims({ nonce: 'n-0S6_WzA2Mj' })),
      'ERR_LOGOUT_TOKEN_CLAIM',
    )
    expect(outcome.error).toMatchObject({ claim: 'nonce' })
  })

  it('rp-backchannel-rpinitlogout-wrong-alg: ES256 by a key in the JWKS while the app pins RS256 → 400', async () => {
    await expectRejected(await idp.sign(idp.claims(), { key: es256 }), 'ERR_LOGOUT_TOKEN_ALG')
  })

  it('rp-backchannel-rpinitlogout-wrong-aud: aud = clientId + "INVALID" → 400', async () => {
    await expectRejected(await idp.sign(idp.claims({ aud: `${CLIENT_ID}INVALID` })), 'ERR_LOGOUT_TOKEN_AUDIENCE')
  })

  it('rp-backchannel-rpinitlogout-wrong-event: only the foobar event → 400', async () => {
    const events = { 'http://schemas.openid.net/event/foobar': {} }
    await expectRejected(await idp.sign(idp.claims({ events })), 'ERR_LOGOUT_TOKEN_CLAIM')
  })

  it('rp-backchannel-rpinitlogout-wrong-iss: iss = issuer + "INVALID", validly signed → 400', async () => {
    await expectRejected(await idp.sign(idp.claims({ iss: `${idp.url}INVALID` })), 'ERR_LOGOUT_TOKEN_ISSUER')
  })
})

describe('rejected beyond the suite (derived from the spec)', () => {
  it('neither sub nor sid', async () => {
    const outcome = await expectRejected(
      await idp.sign(idp.claims({ sub: undefined, sid: undefined })),
      'ERR_LOGOUT_TOKEN_CLAIM',
    )
    expect(outcome.error).toMatchObject({ claim: 'sub/sid' })
  })

  it('events is an array', async () => {
    await expectRejected(await idp.sign(idp.claims({ events: [BACKCHANNEL_LOGOUT_EVENT] })), 'ERR_LOGOUT_TOKEN_CLAIM')
  })

  for (const value of [true, null, 'logout']) {
    it(`the back-channel event's value is ${JSON.stringify(value)}`, async () => {
      const events = { [BACKCHANNEL_LOGOUT_EVENT]: value }
      await expectRejected(await idp.sign(idp.claims({ events })), 'ERR_LOGOUT_TOKEN_CLAIM')
    })
  }

  it('expired', async () => {
    await expectRejected(await idp.sign(idp.claims({ iat: now() - 300, exp: now() - 180 })), 'ERR_LOGOUT_TOKEN_EXPIRED')
  })

  it('exp missing, allowMissingExp off', async () => {
    const outcome = await expectRejected(await idp.sign(idp.claims({ exp: undefined })), 'ERR_LOGOUT_TOKEN_CLAIM')
    expect(outcome.error).toMatchObject({ claim: 'exp' })
  })

  it('iat in the future beyond the clock tolerance', async () => {
    await expectRejected(await idp.sign(idp.claims({ iat: now() + 600, exp: now() + 720 })), 'ERR_LOGOUT_TOKEN_IAT')
  })

  for (const exp of [1e308, 1e15, -1]) {
    it(`exp ${exp}: no NumericDate an issuer means → 400 naming exp`, async () => {
      const outcome = await expectRejected(await idp.sign(idp.claims({ exp })), 'ERR_LOGOUT_TOKEN_CLAIM')
      expect(outcome.error).toMatchObject({ claim: 'exp' })
    })
  }

  it('iat older than the maximum token age', async () => {
    await expectRejected(await idp.sign(idp.claims({ iat: now() - 3600, exp: now() + 60 })), 'ERR_LOGOUT_TOKEN_EXPIRED')
  })

  it('jti missing', async () => {
    const outcome = await expectRejected(await idp.sign(idp.claims({ jti: undefined })), 'ERR_LOGOUT_TOKEN_CLAIM')
    expect(outcome.error).toMatchObject({ claim: 'jti' })
  })

  it('typ header at+jwt', async () => {
    await expectRejected(await idp.sign(idp.claims(), { header: { typ: 'at+jwt' } }), 'ERR_LOGOUT_TOKEN_TYP')
  })

  it('HS256 MACed with the bytes of the issuer public key (algorithm confusion)', async () => {
    const keyBytes = new TextEncoder().encode(JSON.stringify(idp.key.publicJwk))
    const { SignJWT } = await import('jose')
    const token = await new SignJWT(idp.claims()).setProtectedHeader({ alg: 'HS256', kid: idp.key.kid }).sign(keyBytes)
    await expectRejected(token, 'ERR_LOGOUT_TOKEN_ALG')
  })

  it('an unknown kid', async () => {
    const stranger = await createSigningKey('RS256')
    await expectRejected(await idp.sign(idp.claims(), { key: stranger }), 'ERR_LOGOUT_TOKEN_SIGNATURE')
  })

  it('a valid kid with a signature by another key', async () => {
    const stranger = await createSigningKey('RS256', idp.key.kid)
    await expectRejected(await idp.sign(idp.claims(), { key: stranger }), 'ERR_LOGOUT_TOKEN_SIGNATURE')
  })

  it('aud with an untrusted extra audience and no azp', async () => {
    await expectRejected(await idp.sign(idp.claims({ aud: [CLIENT_ID, 'someone-else'] })), 'ERR_LOGOUT_TOKEN_AUDIENCE')
  })

  it('jku pointing elsewhere', async () => {
    const token = await idp.sign(idp.claims(), { header: { jku: 'https://attacker.example/jwks' } })
    await expectRejected(token, 'ERR_LOGOUT_TOKEN_HEADER')
  })

  it('an embedded jwk header', async () => {
    await expectRejected(
      await idp.sign(idp.claims(), { header: { jwk: idp.key.publicJwk } }),
      'ERR_LOGOUT_TOKEN_HEADER',
    )
  })

  it('a crit header naming an extension nothing here understands', async () => {
    const { kid, alg, privateKey } = idp.key
    const token = await new CompactSign(new TextEncoder().encode(JSON.stringify(idp.claims())))
      .setProtectedHeader({ alg, kid, crit: ['urn:example:ext'], 'urn:example:ext': true })
      .sign(privateKey, { crit: { 'urn:example:ext': true } })
    const outcome = await expectRejected(token, 'ERR_LOGOUT_TOKEN_HEADER')
    expect(outcome.body?.error_description).toContain('crit')
  })

  it('sub present but empty', async () => {
    await expectRejected(await idp.sign(idp.claims({ sub: '' })), 'ERR_LOGOUT_TOKEN_CLAIM')
  })

  it('not a JWT at all', async () => {
    await expectRejected('x'.repeat(10_000), 'ERR_LOGOUT_TOKEN_MALFORMED')
  })

  it('a header that is not JSON', async () => {
    await expectRejected('bm90IGpzb24.e30.c2ln', 'ERR_LOGOUT_TOKEN_MALFORMED')
  })

  it('a validly signed payload that is not UTF-8; a valid token after it is accepted', async () => {
    const utf8 = (text: string) => new TextEncoder().encode(text)
    const payload = new Uint8Array([...utf8('{"sub":"'), 0xff, ...utf8('"}')])
    const { kid, alg, privateKey } = idp.key
    const token = await new CompactSign(payload).setProtectedHeader({ alg, kid }).sign(privateKey)
    await expectRejected(token, 'ERR_LOGOUT_TOKEN_MALFORMED')
    // Every token is decoded by one decoder: it keeps nothing from the failure.
    expect((await gw.post(await idp.sign(idp.claims()))).status).toBe(200)
  })
})

describe('accepted beyond the suite', () => {
  const accepted = async (token: string, app = 'app') => {
    const outcome = await gw.post(token, { app })
    expect(outcome.error).toBeUndefined()
    expect(outcome.status).toBe(200)
    return outcome
  }

  it('extra events members', async () => {
    await accepted(await idp.sign(idp.claims({ events: { ...event, 'https://example.com/other': { x: 1 } } })))
  })

  it('typ: JWT in the header, and case-insensitive typ values', async () => {
    await accepted(await idp.sign(idp.claims(), { header: { typ: 'JWT' } }))
    await accepted(await idp.sign(idp.claims(), { header: { typ: 'Application/Logout+JWT' } }))
  })

  it('payload typ: "Logout" (ignored)', async () => {
    await accepted(await idp.sign(idp.claims({ typ: 'Logout' })))
  })

  it('aud as a one-element array', async () => {
    await accepted(await idp.sign(idp.claims({ aud: [CLIENT_ID] })))
  })

  it('aud with another audience when azp is this client', async () => {
    await accepted(await idp.sign(idp.claims({ aud: [CLIENT_ID, 'api'], azp: CLIENT_ID })))
  })

  it('exp missing under allowMissingExp, bounded by iat + max age', async () => {
    await accepted(await idp.sign(idp.claims({ exp: undefined })), 'legacy')
    const old = await idp.sign(idp.claims({ exp: undefined, iat: now() - 700 }))
    expect(codeOf(await gw.post(old, { app: 'legacy' }))).toBe('ERR_LOGOUT_TOKEN_EXPIRED')
  })

  it('a far-off exp: the jti is remembered until iat + max age + tolerance, not until exp', async () => {
    const iat = now()
    const outcome = await accepted(await idp.sign(idp.claims({ iat, exp: iat + 10 * 365 * 86400 })))
    expect(outcome.token?.acceptedUntil).toBe(iat + 600 + 60)
  })

  it('iat slightly in the future, within the clock tolerance', async () => {
    await accepted(await idp.sign(idp.claims({ iat: now() + 30 })))
  })
})
