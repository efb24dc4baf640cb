/**
 * Discovery refusals, each with its code, against a real HTTP issuer on loopback. Private ranges
 * other than loopback are checked without any network traffic (address classification only).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { isForbiddenAddress } from '../src/_internal/ip.js'
import { discoverIssuer } from '../src/discovery/index.js'
import { CLIENT_ID, startIssuer, type TestIssuer } from './fixtures/issuer.js'

let idp: TestIssuer
beforeEach(async () => {
  idp = await startIssuer()
})
afterEach(() => idp.close())

const insecure = { clientId: CLIENT_ID, fetchPolicy: { allowInsecure: true } }
const discoveryHits = () => idp.hits.get('/.well-known/openid-configuration') ?? 0
const metadata = (overrides: Record<string, unknown> = {}) =>
  JSON.stringify({ issuer: idp.url, jwks_uri: idp.jwksUri, ...overrides })

describe('discoverIssuer', () => {
  it('returns the issuer, its jwks_uri and what it says it supports', async () => {
    await expect(discoverIssuer(idp.url, insecure)).resolves.toEqual({
      issuer: idp.url,
      jwksUri: idp.jwksUri,
      signingAlgorithms: ['RS256', 'ES256'],
      backchannelLogoutSupported: true,
      backchannelLogoutSessionSupported: true,
    })
  })

  it('refuses an issuer that states another issuer', async () => {
    idp.route('/.well-known/openid-configuration', (_req, res) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end(metadata({ issuer: 'https://evil.example' })),
    )
    await expect(discoverIssuer(idp.url, insecure)).rejects.toMatchObject({ code: 'ERR_ISSUER_MISMATCH' })
  })

  it('refuses an issuer that differs only by a trailing slash (exact match)', async () => {
    await expect(discoverIssuer(`${idp.url}/`, insecure)).rejects.toMatchObject({
      code: 'ERR_ISSUER_MISMATCH',
      message: expect.stringContaining('register it exactly as the provider states it'),
    })
  })

  it('refuses http: without permission, before sending anything', async () => {
    await expect(discoverIssuer(idp.url, { clientId: CLIENT_ID })).rejects.toMatchObject({
      code: 'ERR_ISSUER_INSECURE',
    })
    expect(discoveryHits()).toBe(0)
  })

  it('refuses a loopback IP address without permission', async () => {
    const url = idp.url.replace('http:', 'https:')
    await expect(discoverIssuer(url, { clientId: CLIENT_ID })).rejects.toMatchObject({
      code: 'ERR_ISSUER_ADDRESS_FORBIDDEN',
    })
    expect(discoveryHits()).toBe(0)
  })

  it('refuses a host name that resolves to loopback, in the connection lookup', async () => {
    const url = idp.url.replace('http://127.0.0.1', 'https://localhost')
    await expect(discoverIssuer(url, { clientId: CLIENT_ID })).rejects.toMatchObject({
      code: 'ERR_ISSUER_ADDRESS_FORBIDDEN',
    })
    expect(discoveryHits()).toBe(0)
  })

  it('lets a trusted host past the address check (still https: only)', async () => {
    const url = idp.url.replace('http:', 'https:')
    const refused = discoverIssuer(url, { clientId: CLIENT_ID, fetchPolicy: { trustedHosts: ['127.0.0.1'] } })
    // Our loopback issuer speaks plain HTTP, so the TLS handshake fails: the address was allowed.
    await expect(refused).rejects.toMatchObject({ code: 'ERR_ISSUER_UNREACHABLE' })
    await expect(
      discoverIssuer(idp.url, { clientId: CLIENT_ID, fetchPolicy: { trustedHosts: ['127.0.0.1'] } }),
    ).rejects.toMatchObject({ code: 'ERR_ISSUER_INSECURE' })
  })

  it('refuses a redirect', async () => {
    idp.route('/.well-known/openid-configuration', (_req, res) =>
      res.writeHead(302, { location: `${idp.url}/elsewhere` }).end(),
    )
    await expect(discoverIssuer(idp.url, insecure)).rejects.toMatchObject({ code: 'ERR_ISSUER_REDIRECT' })
    expect(idp.hits.get('/elsewhere')).toBeUndefined()
  })

  it('refuses an oversize document', async () => {
    idp.route('/.well-known/openid-configuration', (_req, res) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end(metadata({ pad: 'x'.repeat(2048) })),
    )
    const policy = { allowInsecure: true, maxBytes: 1024 }
    await expect(discoverIssuer(idp.url, { clientId: CLIENT_ID, fetchPolicy: policy })).rejects.toMatchObject({
      code: 'ERR_ISSUER_RESPONSE_TOO_LARGE',
    })
  })

  it('refuses an oversize document sent in chunks without a content-length', async () => {
    idp.route('/.well-known/openid-configuration', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      for (let i = 0; i < 8; i++) res.write('x'.repeat(512))
      res.end()
    })
    const policy = { allowInsecure: true, maxBytes: 1024 }
    await expect(discoverIssuer(idp.url, { clientId: CLIENT_ID, fetchPolicy: policy })).rejects.toMatchObject({
      code: 'ERR_ISSUER_RESPONSE_TOO_LARGE',
    })
  })

  it('gives up after the timeout', async () => {
    idp.route('/.well-known/openid-configuration', () => {}) // never answers
    const policy = { allowInsecure: true, timeout: 0.3 }
    await expect(discoverIssuer(idp.url, { clientId: CLIENT_ID, fetchPolicy: policy })).rejects.toMatchObject({
      code: 'ERR_ISSUER_TIMEOUT',
    })
  })

  it('refuses metadata without a jwks_uri', async () => {
    idp.route('/.well-known/openid-configuration', (_req, res) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end(metadata({ jwks_uri: undefined })),
    )
    await expect(discoverIssuer(idp.url, insecure)).rejects.toMatchObject({ code: 'ERR_ISSUER_METADATA_INVALID' })
  })

  it('refuses a document that is not JSON', async () => {
    idp.route('/.well-known/openid-configuration', (_req, res) =>
      res.writeHead(200, { 'content-type': 'text/html' }).end('<html>login</html>'),
    )
    await expect(discoverIssuer(idp.url, insecure)).rejects.toMatchObject({ code: 'ERR_ISSUER_METADATA_INVALID' })
  })

  it('reports an issuer that answers 404 as unreachable', async () => {
    await expect(discoverIssuer(`${idp.url}/realms/missing`, insecure)).rejects.toMatchObject({
      code: 'ERR_ISSUER_UNREACHABLE',
    })
  })

  it('names the URL and the cause in what it reports', async () => {
    const where = `${idp.url}/realms/missing/.well-known/openid-configuration`
    await expect(discoverIssuer(`${idp.url}/realms/missing`, insecure)).rejects.toThrow(
      `${where} did not answer 200 (it answered 404)`,
    )
    idp.route('/.well-known/openid-configuration', (_req, res) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end(metadata({ issuer: 'https://evil.example' })),
    )
    await expect(discoverIssuer(idp.url, insecure)).rejects.toThrow(
      `${idp.url}/.well-known/openid-configuration states its issuer as "https://evil.example"`,
    )
    const closed = idp.url
    await idp.close()
    await expect(discoverIssuer(closed, insecure)).rejects.toThrow(
      // Refused, or reset when a kept-alive socket to it is reused.
      new RegExp(`^${closed}/.well-known/openid-configuration could not be reached \\(ECONN(REFUSED|RESET)\\)$`),
    )
    idp = await startIssuer() // for afterEach
  })

  it('says an issuer without a scheme lacks one, rather than suggesting the insecure flag', async () => {
    for (const issuer of ['id.example.com', 'id.example.com:8443/realms/main']) {
      const refused = discoverIssuer(issuer, { clientId: CLIENT_ID })
      await expect(refused).rejects.toMatchObject({
        code: 'ERR_ISSUER_URL_INVALID',
        message: expect.stringContaining('is not an absolute URL with a scheme'),
      })
      await expect(refused).rejects.not.toThrow(/INSECURE/)
    }
  })

  it('refuses an issuer URL with a query, or that is not a URL', async () => {
    await expect(discoverIssuer(`${idp.url}?tenant=1`, insecure)).rejects.toMatchObject({
      code: 'ERR_ISSUER_URL_INVALID',
    })
    await expect(discoverIssuer('id.example.com', insecure)).rejects.toMatchObject({ code: 'ERR_ISSUER_URL_INVALID' })
  })
})

describe('address classification (no traffic)', () => {
  const cases: [string, boolean][] = [
    ['127.0.0.1', true],
    ['10.1.2.3', true],
    ['172.16.0.1', true],
    ['172.32.0.1', false],
    ['192.168.1.1', true],
    ['169.254.169.254', true], // cloud metadata
    ['100.64.0.1', true],
    ['0.0.0.0', true],
    ['::1', true],
    ['::', true],
    ['fe80::1', true],
    ['fd00::1', true],
    ['::ffff:127.0.0.1', true],
    ['::ffff:10.0.0.1', true],
    ['8.8.8.8', false],
    ['2606:4700:4700::1111', false],
    ['not an address', true],
  ]
  for (const [address, forbidden] of cases) {
    it(`${address} is ${forbidden ? 'forbidden' : 'allowed'}`, () => {
      expect(isForbiddenAddress(address)).toBe(forbidden)
    })
  }
})
