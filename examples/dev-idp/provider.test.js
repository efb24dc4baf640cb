import { createServer } from 'node:http'
import { createRemoteJWKSet, jwtVerify } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startDevIdp } from './provider.js'

// A relying party on loopback that keeps the logout tokens the provider posts to it.
const received = []
const receiver = createServer(async (req, res) => {
  let body = ''
  for await (const chunk of req) body += chunk
  received.push({
    path: req.url,
    type: req.headers['content-type'],
    token: new URLSearchParams(body).get('logout_token'),
  })
  res.writeHead(200).end()
})

let idp
beforeAll(async () => {
  await new Promise((resolve) => receiver.listen(0, '127.0.0.1', resolve))
  const uri = `http://127.0.0.1:${receiver.address().port}/auth/logout/demo`
  idp = await startDevIdp({ clients: [{ client_id: 'demo', backchannel_logout_uri: uri }] })
})
afterAll(async () => {
  await idp?.close()
  receiver.close()
})

describe('the development identity provider', () => {
  it('publishes discovery metadata announcing back-channel logout with sessions', async () => {
    const metadata = await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json()
    expect(metadata.issuer).toBe(idp.issuer)
    expect(metadata.backchannel_logout_supported).toBe(true)
    expect(metadata.backchannel_logout_session_supported).toBe(true)
  })

  it('POST /dev/logout sends the client a logout token signed with its published keys', async () => {
    const answer = await fetch(`${idp.issuer}/dev/logout`, {
      method: 'POST',
      body: new URLSearchParams({ client_id: 'demo', sub: 'alice', sid: 'sid-1' }),
    })
    expect(answer.status).toBe(200)
    expect(received).toHaveLength(1)
    expect(received[0].path).toBe('/auth/logout/demo')
    expect(received[0].type).toMatch(/^application\/x-www-form-urlencoded/)

    const jwks = createRemoteJWKSet(new URL(`${idp.issuer}/jwks`))
    const { payload, protectedHeader } = await jwtVerify(received[0].token, jwks, {
      issuer: idp.issuer,
      audience: 'demo',
      typ: 'logout+jwt',
    })
    expect(protectedHeader.alg).toBe('RS256')
    expect(payload).toMatchObject({ sub: 'alice', sid: 'sid-1' })
    expect(payload.events).toEqual({ 'http://schemas.openid.net/event/backchannel-logout': {} })
  })

  it('answers 502 naming the problem for a client it does not know', async () => {
    const answer = await fetch(`${idp.issuer}/dev/logout`, {
      method: 'POST',
      body: new URLSearchParams({ client_id: 'nobody', sub: 'alice', sid: 'sid-1' }),
    })
    expect(answer.status).toBe(502)
    expect(await answer.json()).toEqual({ sent: false, error: 'no client nobody' })
  })
})
