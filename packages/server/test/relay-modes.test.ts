/**
 * `sign` and `hmac` relays end to end, through the outbox and the drainer of a gateway served on
 * 127.0.0.1: a logout POSTed to gateway A reaches a second Backchannel (B), which registered A by
 * its public URL as an OIDC issuer, and a small receiver that verifies HS256 with the relay's
 * secret (jose). An admin's `sessions.revoke` on A relays to `sign` and `hmac`, never `forward`.
 */
import { mintLogoutToken } from '@backchannel/core/mint'
import { errors as joseErrors, jwtVerify } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type LoopbackGateway, startLoopbackGateway } from './fixtures/loopback-gateway.js'
import { quickRetry } from './fixtures/quick-retry.js'
import { type RelayReceiver, startRelayReceiver } from './fixtures/relay-receiver.js'

const BCL_EVENT = 'http://schemas.openid.net/event/backchannel-logout'

let a: LoopbackGateway
let b: LoopbackGateway
/** The secret the HMAC receiver verifies with: set from what A's apps.* calls return. */
let receiverSecret = ''
let hmacReceiver: RelayReceiver
let forwardReceiver: RelayReceiver

beforeAll(async () => {
  ;[a, b] = await Promise.all([
    startLoopbackGateway({ relays: { planRetry: quickRetry, pollMs: 50 } }),
    startLoopbackGateway(),
  ])
  // B trusts A as an issuer: discovery through A's /.well-known/openid-configuration.
  await b.admin.apps.create.mutate({ name: 'from-a', issuer: a.url, clientId: 'b-client', algorithms: ['ES256'] })
  hmacReceiver = await startRelayReceiver(async (token) => {
    try {
      await jwtVerify(token, new TextEncoder().encode(receiverSecret), { issuer: a.url, algorithms: ['HS256'] })
      return { status: 200 }
    } catch {
      return { status: 400 }
    }
  })
  forwardReceiver = await startRelayReceiver()
})
afterAll(async () => {
  await Promise.all([a?.close(), b?.close(), hmacReceiver?.close(), forwardReceiver?.close()])
})

/** An HMAC application on A with `relays`; returns how to log `sub` out by POSTing a token to A. */
async function appOnA(name: string, relays: { url: string; mode: 'forward' | 'sign' | 'hmac'; clientId?: string }[]) {
  const created = await a.admin.apps.create.mutate({ name, relays })
  // Present when the call issued hmac relay secrets (the client's inferred type drops it).
  const { relaySecrets = {} } = created as { relaySecrets?: Record<string, string> }
  const logout = async (claims: { sub: string; sid?: string }) => {
    const token = await mintLogoutToken({ secret: created.secret as string, ...claims })
    const res = await fetch(`${a.url}/auth/logout/${name}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ logout_token: token }),
    })
    expect(res.status).toBe(200)
  }
  return { relaySecrets, logout }
}

const deliveredOnA = (app: string, count: number) =>
  expect
    .poll(async () => (await a.admin.relays.list.query({ app, state: 'delivered' })).length, { timeout: 10_000 })
    .toBe(count)
const stateOnB = async (sessionId: string) => (await b.admin.sessions.status.query({ app: 'from-a', sessionId })).state

describe('sign: a second Backchannel trusts the gateway as its issuer', () => {
  it("ends B's session when a logout reaches A", async () => {
    const { logout } = await appOnA('wiki', [
      { url: `${b.url}/auth/logout/from-a`, mode: 'sign', clientId: 'b-client' },
    ])
    await b.admin.sessions.register.mutate({ app: 'from-a', sessionId: 'laptop', sub: 'alice', sid: 'sid-laptop' })
    await b.admin.sessions.register.mutate({ app: 'from-a', sessionId: 'phone', sub: 'alice', sid: 'sid-phone' })

    await logout({ sub: 'alice', sid: 'sid-laptop' })

    await expect.poll(() => stateOnB('laptop'), { timeout: 10_000 }).toBe('revoked')
    expect(await stateOnB('phone')).toBe('active')
    await deliveredOnA('wiki', 1)
    // B audited a logout from A as an identity provider like any other.
    const [record] = await b.admin.audit.list.query({ app: 'from-a' })
    expect(record).toMatchObject({ source: 'backchannel', outcome: 'revoked', iss: a.url })
  })
})

describe('hmac: a receiver that verifies HS256 with the relay secret', () => {
  it('verifies what a real logout relays, and after rotateRelaySecret only with the new secret', async () => {
    const { relaySecrets, logout } = await appOnA('billing', [{ url: hmacReceiver.url, mode: 'hmac' }])
    const first = relaySecrets[hmacReceiver.url] as string
    expect(first).toMatch(/^bcs_/)
    receiverSecret = first
    await logout({ sub: 'bob' })
    await deliveredOnA('billing', 1)
    const { payload } = await jwtVerify(hmacReceiver.received.at(-1)?.token as string, new TextEncoder().encode(first))
    expect(payload).toMatchObject({ iss: a.url, sub: 'bob', events: { [BCL_EVENT]: {} } })

    const { secret: second } = await a.admin.apps.rotateRelaySecret.mutate({ name: 'billing', url: hmacReceiver.url })
    expect(second).not.toBe(first)
    receiverSecret = second
    await logout({ sub: 'bob' })
    await deliveredOnA('billing', 2)
    const token = hmacReceiver.received.at(-1)?.token as string
    await jwtVerify(token, new TextEncoder().encode(second))
    await expect(jwtVerify(token, new TextEncoder().encode(first))).rejects.toBeInstanceOf(
      joseErrors.JWSSignatureVerificationFailed,
    )
  })
})

describe('an admin-initiated revocation', () => {
  it('relays sessions.revoke to sign and hmac relays, not to forward ones', async () => {
    const { relaySecrets } = await appOnA('portal', [
      { url: forwardReceiver.url, mode: 'forward' },
      { url: `${b.url}/auth/logout/from-a`, mode: 'sign', clientId: 'b-client' },
      { url: hmacReceiver.url, mode: 'hmac' },
    ])
    receiverSecret = relaySecrets[hmacReceiver.url] as string
    await b.admin.sessions.register.mutate({ app: 'from-a', sessionId: 'carol-1', sub: 'carol', sid: 'sid-c' })
    const before = hmacReceiver.received.length

    await a.admin.sessions.revoke.mutate({ app: 'portal', sub: 'carol' })

    await expect.poll(() => stateOnB('carol-1'), { timeout: 10_000 }).toBe('revoked')
    await deliveredOnA('portal', 2)
    // The deliveries were written with the revocation: none was ever made for the forward relay.
    const deliveries = await a.admin.relays.list.query({ app: 'portal' })
    expect(deliveries.map((d) => d.mode).sort()).toEqual(['hmac', 'sign'])
    expect(forwardReceiver.received).toEqual([])
    expect(hmacReceiver.received).toHaveLength(before + 1)
    const { payload } = await jwtVerify(
      hmacReceiver.received.at(-1)?.token as string,
      new TextEncoder().encode(receiverSecret),
    )
    expect(payload.sub).toBe('carol')
  })
})
