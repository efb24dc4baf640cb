/** The token shapes real identity providers send (logout-token-rules.md), each accepted. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BACKCHANNEL_LOGOUT_EVENT } from '../src/index.js'
import { createTestGateway } from './fixtures/gateway.js'
import { CLIENT_ID, createSigningKey, startIssuer, type TestIssuer } from './fixtures/issuer.js'

let idp: TestIssuer
beforeAll(async () => {
  idp = await startIssuer()
  idp.published.push(await createSigningKey('ES256', 'ec-key'))
})
afterAll(() => idp.close())

const now = () => Math.floor(Date.now() / 1000)
const event = { [BACKCHANNEL_LOGOUT_EVENT]: {} }

async function expectAccepted(
  token: string,
  options: { allowMissingExp?: boolean; algorithms?: ('RS256' | 'ES256')[]; sid?: string; sub?: string },
) {
  const gw = createTestGateway([
    idp.app({ algorithms: options.algorithms, policy: { allowMissingExp: options.allowMissingExp } }),
  ])
  await gw.store.register({ app: 'app', iss: idp.url, sessionId: 's', sub: options.sub ?? 'u', sid: options.sid })
  const outcome = await gw.post(token)
  expect(outcome.error).toBeUndefined()
  expect(outcome).toMatchObject({ status: 200, revoked: 1 })
}

describe('real identity providers', () => {
  it('oidc-provider ≥ 8.8.1: typ logout+jwt, aud string, exp = iat + 120', async () => {
    const iat = now()
    const token = await idp.sign(
      { iss: idp.url, aud: CLIENT_ID, sub: 'u', sid: 'sid', jti: 'j1', iat, exp: iat + 120, events: event },
      { header: { typ: 'logout+jwt' } },
    )
    await expectAccepted(token, { sid: 'sid' })
  })

  it('Keycloak ≥ 24: payload typ "Logout" and the revoke_offline_access events member', async () => {
    const iat = now()
    const token = await idp.sign(
      {
        iss: idp.url,
        aud: CLIENT_ID,
        sub: 'u',
        sid: 'kc-sid',
        typ: 'Logout',
        jti: 'kc-1',
        iat,
        exp: iat + 120,
        events: { ...event, revoke_offline_access: true },
      },
      { header: { typ: 'logout+jwt' } },
    )
    await expectAccepted(token, { sid: 'kc-sid' })
  })

  it('Keycloak before Dec 2023: typ JWT and no exp, under allowMissingExp', async () => {
    const token = await idp.sign(
      { iss: idp.url, aud: CLIENT_ID, sub: 'u', sid: 'kc-sid', typ: 'Logout', jti: 'kc-2', iat: now(), events: event },
      { header: { typ: 'JWT' } },
    )
    await expectAccepted(token, { sid: 'kc-sid', allowMissingExp: true })
  })

  it('Ory Hydra: sid only, aud array, no sub, no exp, under allowMissingExp', async () => {
    const token = await idp.sign(
      { iss: idp.url, aud: [CLIENT_ID], sid: 'hydra-sid', jti: 'h1', iat: now(), events: event },
      { header: { typ: 'JWT' } },
    )
    await expectAccepted(token, { sid: 'hydra-sid', allowMissingExp: true })
  })

  it('authentik ≥ 2025.8.2: ES256, sid and sub, exp present', async () => {
    const iat = now()
    const token = await idp.sign(
      { iss: idp.url, aud: CLIENT_ID, sub: 'u', sid: 'ak-sid', jti: 'a1', iat, exp: iat + 300, events: event },
      { header: { typ: 'logout+jwt', kid: 'ec-key', alg: 'ES256' }, key: idp.published[1] },
    )
    await expectAccepted(token, { sid: 'ak-sid', algorithms: ['ES256'] })
  })

  it('ZITADEL: typ JWT, aud array, exp = iat + 5 min', async () => {
    const iat = now()
    const token = await idp.sign(
      { iss: idp.url, aud: [CLIENT_ID], sub: 'u', sid: 'z-sid', jti: 'z1', iat, exp: iat + 300, events: event },
      { header: { typ: 'JWT' } },
    )
    await expectAccepted(token, { sid: 'z-sid' })
  })

  it('Auth0: no typ header, sub and sid', async () => {
    const iat = now()
    const token = await idp.sign(
      { iss: idp.url, aud: CLIENT_ID, sub: 'auth0|123', sid: 'a0-sid', jti: 'a0', iat, exp: iat + 120, events: event },
      { header: { typ: undefined } },
    )
    await expectAccepted(token, { sid: 'a0-sid', sub: 'auth0|123' })
  })

  it('a sub-only logout ends every session of the user', async () => {
    const gw = createTestGateway([idp.app()])
    for (const sessionId of ['a', 'b', 'c']) await gw.store.register({ app: 'app', iss: idp.url, sessionId, sub: 'u' })
    await gw.store.register({ app: 'app', iss: idp.url, sessionId: 'other', sub: 'v' })
    const outcome = await gw.post(await idp.sign(idp.claims({ sub: 'u', sid: undefined })))
    expect(outcome).toMatchObject({ status: 200, revoked: 3 })
    expect((await gw.store.status('app', 'other')).state).toBe('active')
  })
})
