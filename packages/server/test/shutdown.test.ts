/**
 * Graceful shutdown: SIGTERM while a logout is in flight (the issuer's key set answers slowly)
 * lets that logout finish with 200, refuses new connections, and exits 0.
 */
import { randomUUID } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { BACKCHANNEL_LOGOUT_EVENT } from '@backchannel/core'
import { exportJWK, generateKeyPair, SignJWT } from 'jose'
import { expect, it } from 'vitest'
import { postLogout, startGateway } from './fixtures/gateway-process.js'

it('finishes the logout in flight, then exits 0', async () => {
  const { privateKey, publicKey } = await generateKeyPair('RS256')
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k', alg: 'RS256', use: 'sig' }
  let jwksDelay = 0
  const idp = createServer((req, res) => {
    const json = (body: unknown) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body))
    if (req.url === '/.well-known/openid-configuration') return json({ issuer, jwks_uri: `${issuer}/jwks` })
    setTimeout(() => json({ keys: [jwk] }), jwksDelay)
  })
  await new Promise<void>((resolve) => idp.listen(0, '127.0.0.1', resolve))
  const issuer = `http://127.0.0.1:${(idp.address() as AddressInfo).port}`

  const gateway = await startGateway()
  try {
    await gateway.admin.apps.create.mutate({ name: 'slow', issuer, clientId: 'c' })
    const iat = Math.floor(Date.now() / 1000)
    const token = await new SignJWT({
      iss: issuer,
      aud: 'c',
      sub: 'u',
      jti: randomUUID(),
      iat,
      exp: iat + 120,
      events: { [BACKCHANNEL_LOGOUT_EVENT]: {} },
    })
      .setProtectedHeader({ alg: 'RS256', kid: 'k' })
      .sign(privateKey)

    jwksDelay = 1500
    const inFlight = postLogout(gateway.url, 'slow', `logout_token=${token}`)
    await new Promise((resolve) => setTimeout(resolve, 300))
    const exited = gateway.stop()

    expect((await inFlight).status).toBe(200)
    expect(await exited).toBe(0)
    await expect(fetch(`${gateway.url}/healthz`)).rejects.toThrow()
    expect(gateway.stdout()).toMatch(/"msg":"stopped"/)
  } finally {
    await gateway.stop()
    idp.close()
  }
})
