/**
 * What the core verifier costs over bare signature checking: every contender verifies the same
 * RS256 logout token with the same key, in one run. `pnpm bench` prints ops/s and the ratios.
 */
import { randomUUID } from 'node:crypto'
import { exportJWK, generateKeyPair, jwtVerify, SignJWT } from 'jose'
import { bench, describe } from 'vitest'
import { BACKCHANNEL_LOGOUT_EVENT, createKeyResolver, createLogoutVerifier, type OidcApp } from '../src/index.js'

const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true })
const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' }
const app: OidcApp = {
  kind: 'oidc',
  name: 'app',
  issuer: 'https://id.example',
  clientId: 'c',
  jwksUri: 'https://id.example/jwks',
}
const iat = Math.floor(Date.now() / 1000)
const token = await new SignJWT({
  iss: app.issuer,
  aud: app.clientId,
  sub: 'user',
  sid: 'sid',
  jti: randomUUID(),
  iat,
  exp: iat + 3600,
  events: { [BACKCHANNEL_LOGOUT_EVENT]: {} },
})
  .setProtectedHeader({ alg: 'RS256', kid: 'k1', typ: 'logout+jwt' })
  .sign(privateKey)

// The key set is served from memory: this measures verification, not the network.
const keys = createKeyResolver({
  fetch: async () => new Response(JSON.stringify({ keys: [jwk] }), { headers: { 'content-type': 'application/json' } }),
})
const verifier = createLogoutVerifier({ keys })
await verifier.verify(token, app)

const options = { time: 3000, warmupTime: 1000 }

describe('RS256 logout token', () => {
  bench(
    'ceiling: jose jwtVerify with the key in hand',
    async () => {
      await jwtVerify(token, publicKey, { algorithms: ['RS256'], issuer: app.issuer, audience: app.clientId })
    },
    options,
  )
  bench(
    '@backchannel/core verifier (key lookup + every BCL rule)',
    async () => {
      await verifier.verify(token, app)
    },
    options,
  )
})
