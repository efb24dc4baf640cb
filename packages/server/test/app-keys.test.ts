/**
 * The key set every application of an issuer shares, and its refetch cooldown, across changes to
 * those applications: a tenant's own change keeps them; the operator's rediscovery or removal
 * drops them. An OpenID provider on 127.0.0.1 serves the metadata and the JWKS, counting fetches.
 */

import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createAdminClient } from '@backchannel/admin/client'
import { exportJWK, generateKeyPair, SignJWT } from 'jose'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { type LoopbackGateway, startLoopbackGateway } from './fixtures/loopback-gateway.js'

type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>
let signing: KeyPair
let stranger: KeyPair // published nowhere
beforeAll(async () => {
  signing = await generateKeyPair('RS256')
  stranger = await generateKeyPair('RS256')
})

const closers: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close()
})

/** An OpenID provider on 127.0.0.1: its discovery document and its JWKS (`k1`). */
async function startProvider() {
  let jwksFetches = 0
  const jwk = { ...(await exportJWK(signing.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' }
  const server = createServer((req, res) => {
    const json = (body: unknown) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body))
    if (req.url === '/.well-known/openid-configuration') {
      json({ issuer, jwks_uri: `${issuer}/jwks`, backchannel_logout_supported: true })
    } else if (req.url === '/jwks') {
      jwksFetches++
      json({ keys: [jwk] })
    } else res.writeHead(404).end()
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  closers.push(() => new Promise((resolve) => server.close(resolve)))
  return { issuer, jwksFetches: () => jwksFetches }
}

async function setUp() {
  const provider = await startProvider()
  const gw: LoopbackGateway = await startLoopbackGateway()
  closers.push(() => gw.close())
  const { apiKey } = await gw.admin.apps.create.mutate({ name: 'wiki', issuer: provider.issuer, clientId: 'wiki' })
  /** Posts a logout token for `app`, signed by `key` with header `kid`, issued `age` seconds ago. */
  const logout = async (kid: string, key = signing.privateKey, app = 'wiki', age = 5) => {
    const iat = Math.floor(Date.now() / 1000) - age
    const token = await new SignJWT({
      iss: provider.issuer,
      aud: app,
      iat,
      exp: iat + 120,
      jti: randomUUID(),
      sid: 'idp-session',
      events: { 'http://schemas.openid.net/event/backchannel-logout': {} },
    })
      .setProtectedHeader({ alg: 'RS256', typ: 'logout+jwt', kid })
      .sign(key)
    const res = await fetch(`${gw.url}/auth/logout/${app}`, {
      method: 'POST',
      body: new URLSearchParams({ logout_token: token }),
    })
    return res.status
  }
  return { provider, gw, apiKey, logout }
}

describe("the key set shared by an issuer's applications", () => {
  it("is kept, with its refetch cooldown, when the app's owner rotates its API key", async () => {
    const { provider, gw, apiKey, logout } = await setUp()
    expect(await logout('k1')).toBe(200)
    expect(provider.jwksFetches()).toBe(1) // the cooldown now holds for 30 s

    let key = apiKey
    for (let i = 0; i < 3; i++) {
      const owner = createAdminClient({ url: `${gw.url}/trpc`, token: key })
      key = (await owner.apps.rotateApiKey.mutate({ name: 'wiki' })).apiKey
      // An unknown kid right after: refused by the cooldown, without a fetch.
      expect(await logout(randomUUID(), stranger.privateKey)).toBe(400)
    }
    expect(await logout('k1')).toBe(200)
    expect(provider.jwksFetches()).toBe(1)
  })

  it('counts the 503s of unknown keys refused within the cooldown against the failure limits', async () => {
    const { logout } = await setUp()
    expect(await logout('k1')).toBe(200) // fetched: the cooldown holds for 30 s
    // Tokens issued after that fetch naming a key not in it: asked to come back (503), since the
    // key may be new; but so many from one client are throttled like any failure.
    const statuses: number[] = []
    for (let i = 0; i < 100 && !statuses.includes(429); i++) {
      statuses.push(await logout(randomUUID(), stranger.privateKey, 'wiki', -1))
    }
    expect(statuses[0]).toBe(503)
    expect(statuses.at(-1)).toBe(429)
  })

  it('is fetched again after the operator rediscovers an app, and forgotten when one is deleted', async () => {
    const { provider, gw, logout } = await setUp()
    await gw.admin.apps.create.mutate({ name: 'docs', issuer: provider.issuer, clientId: 'docs' })
    expect(await logout('k1')).toBe(200)
    expect(await logout('k1', signing.privateKey, 'docs')).toBe(200)
    expect(provider.jwksFetches()).toBe(1) // one key set for both

    await gw.admin.apps.rediscover.mutate({ name: 'wiki' })
    expect(await logout('k1')).toBe(200)
    expect(provider.jwksFetches()).toBe(2)

    await gw.admin.apps.delete.mutate({ name: 'docs' })
    expect(await logout('k1')).toBe(200)
    expect(provider.jwksFetches()).toBe(3)
  })
})
