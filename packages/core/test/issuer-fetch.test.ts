/**
 * The key fetch of runtimes without Node's sockets: the runtime's `fetch` under the rules it can
 * keep, against a real server on loopback.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ipFamily, isForbiddenAddress } from '../src/_internal/ip.js'
import { createWebFetch } from '../src/_internal/issuer-fetch.js'

let server: Server
let origin: string
let hits = 0

beforeAll(async () => {
  server = createServer((req, res) => {
    hits++
    if (req.url === '/redirect') return res.writeHead(302, { location: '/jwks' }).end()
    if (req.url === '/slow') return setTimeout(() => res.end('{}'), 2000)
    // Chunked, with no Content-Length: the cap must hold while reading.
    if (req.url === '/large') return res.end(JSON.stringify({ keys: [], pad: 'x'.repeat(4096) }))
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"keys":[]}')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

describe("the runtime's fetch, guarded", () => {
  const insecure = createWebFetch({ allowInsecure: true, timeout: 0.5, maxBytes: 1024 })

  it('fetches a key set', async () => {
    const res = await insecure(`${origin}/jwks`)
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ keys: [] })
  })

  it('refuses http:, address literals that are not public, and localhost, before connecting', async () => {
    const before = hits
    const strict = createWebFetch()
    await expect(strict(`${origin}/jwks`)).rejects.toMatchObject({ code: 'ERR_ISSUER_INSECURE' })
    for (const url of [
      'https://127.0.0.1/jwks',
      'https://[::1]/jwks',
      'https://10.1.2.3/jwks',
      'https://localhost/jwks',
    ]) {
      await expect(strict(url)).rejects.toMatchObject({ code: 'ERR_ISSUER_ADDRESS_FORBIDDEN' })
    }
    expect(hits).toBe(before)
  })

  it('lets a trusted host through the address rule, still https: only', async () => {
    const trusted = createWebFetch({ trustedHosts: ['127.0.0.1'] })
    await expect(trusted(`${origin}/jwks`)).rejects.toMatchObject({ code: 'ERR_ISSUER_INSECURE' })
    await expect(trusted('https://127.0.0.1:1/jwks')).rejects.toMatchObject({ code: 'ERR_ISSUER_UNREACHABLE' })
  })

  it('does not follow redirects', async () => {
    await expect(insecure(`${origin}/redirect`)).rejects.toMatchObject({ code: 'ERR_ISSUER_REDIRECT' })
  })

  it('gives up after the timeout', async () => {
    await expect(insecure(`${origin}/slow`)).rejects.toMatchObject({ code: 'ERR_ISSUER_TIMEOUT' })
  })

  it('caps the body while reading it', async () => {
    await expect(insecure(`${origin}/large`)).rejects.toMatchObject({ code: 'ERR_ISSUER_RESPONSE_TOO_LARGE' })
  })

  it('refuses a proxy, which only Node’s guarded fetch can use', () => {
    expect(() => createWebFetch({ proxy: { httpsProxy: 'http://proxy.internal:3128' } })).toThrow(
      expect.objectContaining({ code: 'ERR_PROXY_INVALID' }),
    )
  })
})

describe('addresses, without node:net', () => {
  it('reads the forms node:net reads, and no others', () => {
    for (const [text, family] of [
      ['1.2.3.4', 4],
      ['::', 6],
      ['::ffff:1.2.3.4', 6],
      ['fe80::1%eth0', 6],
      ['2001:db8:0:0:0:0:0:1', 6],
      ['01.2.3.4', 0],
      ['1.2.3', 0],
      ['256.0.0.1', 0],
      ['1:2:3:4:5:6:7:8:9', 0],
      ['1::2::3', 0],
      ['example.com', 0],
    ] as const) {
      expect([text, ipFamily(text)]).toEqual([text, family])
    }
  })

  it('takes an IPv4-mapped address in hex form for the IPv4 address it is', () => {
    expect(isForbiddenAddress('::ffff:7f00:1')).toBe(true)
    expect(isForbiddenAddress('::ffff:808:808')).toBe(false)
  })
})
