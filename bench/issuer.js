// The benchmark's identity provider: an RS256 key, a discovery document and a JWKS served on
// loopback (counting every request, to show none arrive after warm-up), and the logout tokens.
import { randomUUID } from 'node:crypto'
import { createServer } from 'node:http'
import { exportJWK, generateKeyPair, SignJWT } from 'jose'

export const CLIENT_ID = 'bench-client'
const EVENT = 'http://schemas.openid.net/event/backchannel-logout'

export async function startIssuer() {
  const { privateKey, publicKey } = await generateKeyPair('RS256')
  const jwk = { ...(await exportJWK(publicKey)), kid: 'bench-key', alg: 'RS256', use: 'sig' }
  const hits = { discovery: 0, jwks: 0 }
  const server = createServer((req, res) => {
    const json = (body) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body))
    if (req.url === '/.well-known/openid-configuration') {
      hits.discovery++
      return json({ issuer, jwks_uri: `${issuer}/jwks`, id_token_signing_alg_values_supported: ['RS256'] })
    }
    if (req.url === '/jwks') {
      hits.jwks++
      return json({ keys: [jwk] })
    }
    res.writeHead(404).end()
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const issuer = `http://127.0.0.1:${server.address().port}`

  /** `count` unique RS256 logout tokens: token i is for sub `user-i`, sid `sid-i`, its own jti. */
  async function mint(count) {
    const iat = Math.floor(Date.now() / 1000)
    const tokens = new Array(count)
    // WebCrypto signs on libuv's thread pool: batches use both cores.
    for (let i = 0; i < count; i += 256) {
      await Promise.all(
        Array.from({ length: Math.min(256, count - i) }, async (_, j) => {
          const jwt = await new SignJWT({
            iss: issuer,
            aud: CLIENT_ID,
            sub: `user-${i + j}`,
            sid: `sid-${i + j}`,
            jti: randomUUID(),
            events: { [EVENT]: {} },
          })
            .setProtectedHeader({ alg: 'RS256', kid: 'bench-key', typ: 'logout+jwt' })
            .setIssuedAt(iat)
            .setExpirationTime(iat + 3600)
            .sign(privateKey)
          // One flat string: as jose returns it, a token is a tree of about 25 string pieces (parts
          // joined, base64url cut out of larger strings), every one of them an object this
          // process's major collections mark — 2.3 million for 90,000 tokens, which stalled the
          // load generator for up to 300 ms (BENCHMARKS.md, seventh round).
          tokens[i + j] = Buffer.from(jwt, 'latin1').toString('latin1')
        }),
      )
    }
    return tokens
  }

  return { issuer, hits, mint, close: () => new Promise((resolve) => server.close(resolve)) }
}
