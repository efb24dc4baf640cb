/**
 * End to end with a real identity provider: oidc-provider sends its own back-channel logout
 * requests to a gateway process; applications were registered through the tRPC API by issuer
 * URL (discovery runs against the provider); sessions.status tells which sessions ended.
 */

import { type DevIdp, startDevIdp } from 'dev-idp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type GatewayProcess, startGateway } from './fixtures/gateway-process.js'

let gateway: GatewayProcess
let provider: DevIdp

const CLIENTS = [
  { app: 'rs-sid', alg: 'RS256', sidRequired: true },
  { app: 'es-sid', alg: 'ES256', sidRequired: true },
  { app: 'rs-sub', alg: 'RS256', sidRequired: false },
  { app: 'es-sub', alg: 'ES256', sidRequired: false },
] as const

beforeAll(async () => {
  gateway = await startGateway()
  provider = await startDevIdp({
    clients: CLIENTS.map((c) => ({
      client_id: `${c.app}-client`,
      backchannel_logout_uri: `${gateway.url}/auth/logout/${c.app}`,
      backchannel_logout_session_required: c.sidRequired,
      id_token_signed_response_alg: c.alg,
    })),
  })
  for (const c of CLIENTS) {
    const { app } = await gateway.admin.apps.create.mutate({
      name: c.app,
      issuer: provider.issuer,
      clientId: `${c.app}-client`,
      algorithms: [c.alg],
    })
    expect(app).toMatchObject({ issuer: provider.issuer, jwksUri: `${provider.issuer}/jwks` })
  }
})
afterAll(async () => {
  await provider?.close()
  expect(await gateway?.stop()).toBe(0)
})

const state = async (app: string, sessionId: string) =>
  (await gateway.admin.sessions.status.query({ app, sessionId })).state

describe('a real oidc-provider logs users out through the gateway', () => {
  for (const c of CLIENTS.filter((c) => c.sidRequired)) {
    it(`${c.alg}, sid required: ends the logged-out IdP session only`, async () => {
      const register = (sessionId: string, sub: string, sid: string) =>
        gateway.admin.sessions.register.mutate({ app: c.app, sessionId, sub, sid })
      await register('alice-laptop', 'alice', 'sid-laptop')
      await register('alice-phone', 'alice', 'sid-phone')
      await register('bob-laptop', 'bob', 'sid-bob')

      await provider.logout(`${c.app}-client`, 'alice', 'sid-laptop')

      expect(await state(c.app, 'alice-laptop')).toBe('revoked')
      expect(await state(c.app, 'alice-phone')).toBe('active')
      expect(await state(c.app, 'bob-laptop')).toBe('active')
    })
  }

  for (const c of CLIENTS.filter((c) => !c.sidRequired)) {
    it(`${c.alg}, sub only: ends every session of the user`, async () => {
      const register = (sessionId: string, sub: string) =>
        gateway.admin.sessions.register.mutate({ app: c.app, sessionId, sub, sid: `${sessionId}-sid` })
      await register('alice-laptop', 'alice')
      await register('alice-phone', 'alice')
      await register('bob-laptop', 'bob')

      await provider.logout(`${c.app}-client`, 'alice', 'ignored-sid')

      expect(await state(c.app, 'alice-laptop')).toBe('revoked')
      expect(await state(c.app, 'alice-phone')).toBe('revoked')
      expect(await state(c.app, 'bob-laptop')).toBe('active')
    })
  }

  it('a logout that arrives before the session is registered still wins', async () => {
    await provider.logout('rs-sid-client', 'carol', 'sid-early')
    await gateway.admin.sessions.register.mutate({
      app: 'rs-sid',
      sessionId: 'carol-late',
      sub: 'carol',
      sid: 'sid-early',
    })
    expect(await state('rs-sid', 'carol-late')).toBe('revoked')
  })

  it('audits each logout and logs one line per request, with no token in either', async () => {
    // Audit records are written after the answer, each within a few milliseconds.
    await expect
      .poll(async () => (await gateway.admin.audit.list.query({ app: 'rs-sid' }))[0])
      .toMatchObject({ app: 'rs-sid', source: 'backchannel', outcome: 'revoked', iss: provider.issuer })
    // Log lines are written in batches, at most 100 ms after they are logged.
    const logouts = () =>
      gateway
        .stdout()
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { msg: string; app?: string; status?: number })
        .filter((l) => l.msg === 'logout').length
    await expect.poll(logouts).toBeGreaterThanOrEqual(CLIENTS.length)
    expect(gateway.stdout()).not.toMatch(/eyJ[\w-]+\.eyJ/) // no JWT anywhere in the logs
  })

  it('fetched each key set once: no JWKS request per logout', async () => {
    const metrics = await (await fetch(`${gateway.url}/metrics`)).text()
    expect(metrics).toMatch(/backchannel_jwks_fetches_total\{result="ok"\} 1\n/)
    expect(metrics).toMatch(/backchannel_logout_requests_total\{app="rs-sid",status="200",code=""\} 2/)
  })
})
