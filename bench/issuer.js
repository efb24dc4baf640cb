// The benchmark's identity provider: an RS256 key, a discovery document and a JWKS served on
// loopback (counting every request, to show none arrive after warm-up), and the logout tokens.
// It is a Shared Signals transmitter too (its /.well-known/ssf-configuration, the same key), and
// mints Security Event Tokens for the same sessions.
import { randomUUID } from 'node:crypto'
import { createServer } from 'node:http'
import { exportJWK, generateKeyPair, SignJWT } from 'jose'

export const CLIENT_ID = 'bench-client'
const EVENT = 'http://schemas.openid.net/event/backchannel-logout'
const SESSION_REVOKED = 'https://schemas.openid.net/secevent/caep/event-type/session-revoked'
/** The `aud` of the SETs, and of the benchmark's streams. */
export const SSF_AUDIENCE = 'https://gateway.bench.invalid'

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
    if (req.url === '/.well-known/ssf-configuration') {
      hits.discovery++
      return json({
        spec_version: '1_0',
        issuer,
        jwks_uri: `${issuer}/jwks`,
        delivery_methods_supported: ['urn:ietf:rfc:8935'],
      })
    }
    if (req.url === '/jwks') {
      hits.jwks++
      return json({ keys: [jwk] })
    }
    res.writeHead(404).end()
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const issuer = `http://127.0.0.1:${server.address().port}`

  /** `count` unique RS256 tokens, token i made by `claims(i)`, with `typ`, `iat` and `exp` (`exp` for logout tokens only). */
  async function signAll(count, typ, claims) {
    const iat = Math.floor(Date.now() / 1000)
    const tokens = new Array(count)
    // WebCrypto signs on libuv's thread pool: batches use both cores.
    for (let i = 0; i < count; i += 256) {
      await Promise.all(
        Array.from({ length: Math.min(256, count - i) }, async (_, j) => {
          const jwt = new SignJWT({ iss: issuer, jti: randomUUID(), ...claims(i + j) })
            .setProtectedHeader({ alg: 'RS256', kid: 'bench-key', typ })
            .setIssuedAt(iat)
          // A SET has no exp (SSF 1.0 §10.3.1); a logout token does.
          if (typ === 'logout+jwt') jwt.setExpirationTime(iat + 3600)
          // One flat string: as jose returns it, a token is a tree of about 25 string pieces (parts
          // joined, base64url cut out of larger strings), every one of them an object this
          // process's major collections mark — 2.3 million for 90,000 tokens, which stalled the
          // load generator for up to 300 ms (BENCHMARKS.md, seventh round).
          tokens[i + j] = Buffer.from(await jwt.sign(privateKey), 'latin1').toString('latin1')
        }),
      )
    }
    return tokens
  }

  /** `count` unique RS256 logout tokens: token i is for sub `user-i`, sid `sid-i`, its own jti. */
  const mint = (count) =>
    signAll(count, 'logout+jwt', (i) => ({
      aud: CLIENT_ID,
      sub: `user-${i}`,
      sid: `sid-${i}`,
      events: { [EVENT]: {} },
    }))

  /**
   * `count` unique Security Event Tokens: SET i is a CAEP `session-revoked` whose complex subject
   * names user `user-i` and IdP session `sid-i` (the session logout token i ends), for {@link SSF_AUDIENCE}.
   */
  const mintSets = (count) =>
    signAll(count, 'secevent+jwt', (i) => ({
      aud: SSF_AUDIENCE,
      // The subject where SSF 1.0 §3.1 puts it.
      sub_id: {
        format: 'complex',
        user: { format: 'iss_sub', iss: issuer, sub: `user-${i}` },
        session: { format: 'opaque', id: `sid-${i}` },
      },
      events: { [SESSION_REVOKED]: {} },
    }))

  return { issuer, hits, mint, mintSets, close: () => new Promise((resolve) => server.close(resolve)) }
}
