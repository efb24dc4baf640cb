/**
 * The gateway as an issuer, over real HTTP on loopback: openid-client's discovery accepts its
 * metadata, tokens it signs verify against its published keys (jose's remote key set), and
 * `keys.rotate` starts a new key while the old one stays published for its grace.
 */

import { randomBytes } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createAdminClient } from '@backchannel/admin/client'
import { BACKCHANNEL_LOGOUT_EVENT } from '@backchannel/core'
import { fsStore } from '@backchannel/unstorage/fs'
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose'
import * as client from 'openid-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createGateway } from '../src/index.js'
import { type LoopbackGateway, startLoopbackGateway } from './fixtures/loopback-gateway.js'

let gw: LoopbackGateway
// The gateway's clock runs ahead by `skew` seconds, to pass the time a new key waits before it signs.
let skew = 0

beforeAll(async () => {
  gw = await startLoopbackGateway({ now: () => Date.now() / 1000 + skew })
})
afterAll(async () => {
  await gw?.close()
})

const claims = () => ({
  iss: gw.url,
  aud: 'receiver',
  sub: 'alice',
  jti: crypto.randomUUID(),
  iat: Math.floor(Date.now() / 1000),
  exp: Math.floor(Date.now() / 1000) + 120,
  events: { [BACKCHANNEL_LOGOUT_EVENT]: {} },
})
const verify = (token: string, keys = createRemoteJWKSet(new URL(`${gw.url}/.well-known/jwks.json`))) =>
  jwtVerify(token, keys, { issuer: gw.url, audience: 'receiver', algorithms: ['ES256'] })

describe('/.well-known', () => {
  it("is discovered by openid-client: the gateway's public URL is the issuer", async () => {
    const config = await client.discovery(new URL(gw.url), 'receiver', undefined, undefined, {
      execute: [client.allowInsecureRequests],
    })
    expect(config.serverMetadata()).toMatchObject({
      issuer: gw.url,
      jwks_uri: `${gw.url}/.well-known/jwks.json`,
      id_token_signing_alg_values_supported: ['ES256'],
      backchannel_logout_supported: true,
      backchannel_logout_session_supported: true,
    })
    // The endpoints it does not serve are not announced.
    expect(config.serverMetadata().authorization_endpoint).toBeUndefined()
    expect(config.serverMetadata().token_endpoint).toBeUndefined()
  })

  it('publishes public keys only, cacheable for a few minutes', async () => {
    for (const path of ['/.well-known/jwks.json', '/.well-known/openid-configuration']) {
      const res = await fetch(gw.url + path)
      expect(res.status).toBe(200)
      expect(res.headers.get('cache-control')).toBe('public, max-age=300')
      expect(res.headers.get('content-type')).toMatch(/^application\/json/)
    }
    const { keys } = (await (await fetch(`${gw.url}/.well-known/jwks.json`)).json()) as { keys: object[] }
    expect(keys).toEqual([
      {
        kty: 'EC',
        crv: 'P-256',
        x: expect.any(String),
        y: expect.any(String),
        kid: expect.any(String),
        alg: 'ES256',
        use: 'sig',
      },
    ])
  })

  it("signs tokens that verify against its remote key set, header { alg: 'ES256', kid, typ: 'logout+jwt' }", async () => {
    const token = await gw.gateway.signer.sign(claims())
    const [listed] = await gw.admin.keys.list.query()
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'ES256', kid: listed?.kid, typ: 'logout+jwt' })
    const { payload } = await verify(token)
    expect(payload).toMatchObject({ sub: 'alice', events: { [BACKCHANNEL_LOGOUT_EVENT]: {} } })
  })

  it('rotates: new tokens carry the new kid, both keys are published, old tokens still verify', async () => {
    const cachedBefore = createRemoteJWKSet(new URL(`${gw.url}/.well-known/jwks.json`))
    const before = await gw.gateway.signer.sign(claims())
    await verify(before, cachedBefore)
    const [old] = await gw.admin.keys.list.query()

    const { kid } = await gw.admin.keys.rotate.mutate({ graceSeconds: 3600 })
    expect(kid).not.toBe(old?.kid)
    // Published at once, but it signs only once every instance has read it (10 s, the signer's cache).
    expect(decodeProtectedHeader(await gw.gateway.signer.sign(claims())).kid).toBe(old?.kid)
    skew += 11
    gw.gateway.signer.refresh()
    const after = await gw.gateway.signer.sign(claims())
    expect(decodeProtectedHeader(after).kid).toBe(kid)

    const { keys } = (await (await fetch(`${gw.url}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] }
    expect(keys.map((k) => k.kid)).toEqual([kid, old?.kid])
    // A receiver that cached the old key set still verifies tokens signed before the rotation,
    // and one that looks again verifies both.
    await verify(before, cachedBefore)
    await verify(before)
    await verify(after)

    const listed = await gw.admin.keys.list.query()
    expect(listed.map((k) => [k.kid, k.state])).toEqual([
      [kid, 'current'],
      [old?.kid, 'retiring'],
    ])
    const retiresAt = listed[1]?.retiresAt as number
    expect(retiresAt - (listed[0]?.createdAt as number)).toBe(3600)
    expect(JSON.stringify(listed)).not.toMatch(/"d"/)
  })

  it('lets only the admin see or rotate keys', async () => {
    const { apiKey } = await gw.admin.apps.create.mutate({ name: 'tenant' })
    const owner = createAdminClient({ url: `${gw.url}/trpc`, token: apiKey })
    await expect(owner.keys.list.query()).rejects.toMatchObject({ data: { code: 'FORBIDDEN' } })
    await expect(owner.keys.rotate.mutate({})).rejects.toMatchObject({ data: { code: 'FORBIDDEN' } })
    await expect(gw.admin.keys.rotate.mutate({ graceSeconds: -1 })).rejects.toMatchObject({
      data: { code: 'BAD_REQUEST' },
    })
  })

  it('answers 503 for keys sealed under another master key, and serves the rest', async () => {
    const base = mkdtempSync(join(tmpdir(), 'bc-keys-'))
    const before = await fsStore({ base, masterKey: randomBytes(32) })
    await before.keys.ensure()
    await before.close()
    const store = await fsStore({ base, masterKey: randomBytes(32) })
    const gateway = createGateway({ store, adminTokenHash: 'x'.repeat(64), publicUrl: 'https://gw.example.com' })
    const res = await gateway.fetch(new Request('https://gw.example.com/.well-known/jwks.json'))
    expect(res.status).toBe(503)
    expect(res.headers.get('retry-after')).toMatch(/^\d+$/)
    expect(await res.json()).toEqual({ error: 'temporarily_unavailable' })
    expect((await gateway.fetch(new Request('https://gw.example.com/healthz'))).status).toBe(200)
    const metadata = await gateway.fetch(new Request('https://gw.example.com/.well-known/openid-configuration'))
    expect(await metadata.json()).toMatchObject({ issuer: 'https://gw.example.com' })
    await gateway.close()
    await store.close()
  })
})
