/**
 * Outbound requests through a real forward proxy: a CONNECT proxy and an HTTPS issuer, both on
 * loopback. The proxy records every CONNECT it is asked for and only ever opens loopback targets.
 * Proxy settings are passed to each fetch, never set in this process's environment.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer as createHttpServer, type Server, type ServerResponse } from 'node:http'
import https from 'node:https'
import { type AddressInfo, connect, isIP, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { createGuardedFetch } from '../src/_internal/guarded-fetch.js'
import { createProxyRouter } from '../src/_internal/outbound-proxy.js'
import { discoverIssuer } from '../src/discovery/index.js'
import { createKeyResolver, proxyFromEnv } from '../src/index.js'
import { createSigningKey, startIssuer } from './fixtures/issuer.js'

/** A forward proxy that tunnels CONNECT to loopback only, and can be told to refuse or hang; over TLS with `tls`. */
interface TestProxy {
  url: string
  /** `host:port` of every CONNECT asked for. */
  connects: string[]
  /** TCP connections accepted. */
  connections: number
  /** Connections (from clients and to targets) still open. */
  open(): number
  mode: 'tunnel' | 'refuse' | 'hang'
  close(): Promise<void>
}

async function startProxy(tls?: { cert: Buffer; key: Buffer }): Promise<TestProxy> {
  const sockets = new Set<Socket>()
  const refuse = (_req: unknown, res: ServerResponse) => res.writeHead(405).end()
  const server: Server = tls ? https.createServer(tls, refuse) : createHttpServer(refuse)
  const proxy: TestProxy = {
    url: '',
    connects: [],
    connections: 0,
    mode: 'tunnel',
    open: () => sockets.size,
    close: () => {
      for (const socket of sockets) socket.destroy()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
  server.on('connection', (socket: Socket) => {
    proxy.connections++
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  server.on('connect', (req, client: Socket, head: Buffer) => {
    proxy.connects.push(String(req.url))
    if (proxy.mode === 'hang') return void client.on('end', () => client.end()) // answers nothing, closes when told
    const target = /^\[?([^\]]+)\]?:(\d+)$/.exec(String(req.url))
    const host = target?.[1] ?? ''
    if (proxy.mode === 'refuse' || !target || !['127.0.0.1', '::1'].includes(host)) {
      return client.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n')
    }
    const upstream = connect(Number(target[2]), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n')
      upstream.write(head)
      upstream.pipe(client).pipe(upstream)
    })
    sockets.add(upstream)
    upstream.on('close', () => sockets.delete(upstream))
    upstream.on('error', () => client.destroy())
    client.on('error', () => upstream.destroy())
  })
  // Over TLS its certificate names localhost, so it is reached by that name.
  await new Promise<void>((resolve) => server.listen(0, tls ? 'localhost' : '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  proxy.url = tls ? `https://localhost:${port}` : `http://127.0.0.1:${port}`
  return proxy
}

// An HTTPS issuer at https://localhost:PORT whose certificate names localhost only (not its
// address), so a tunnel to the address succeeds only if TLS checks the host name.
let tls: { cert: Buffer; key: Buffer }
let issuerServer: https.Server
let issuer: string
let address: string
let issuerConnections = 0
const issuerHits: string[] = []
const defaultCa = https.globalAgent.options.ca

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bc-proxy-'))
  const args = 'req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=localhost'.split(' ')
  args.push('-addext', 'subjectAltName=DNS:localhost', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'))
  execFileSync('openssl', args, { stdio: 'ignore' })
  tls = { cert: readFileSync(join(dir, 'cert.pem')), key: readFileSync(join(dir, 'key.pem')) }
  rmSync(dir, { recursive: true, force: true })
  https.globalAgent.options.ca = tls.cert

  const key = await createSigningKey('RS256', 'proxied-key')
  issuerServer = https.createServer(tls, (req, res) => {
    issuerHits.push(String(req.url))
    if (req.url === '/moved') return res.writeHead(302, { location: `${issuer}/jwks` }).end()
    const body =
      req.url === '/jwks'
        ? { keys: [key.publicJwk] }
        : {
            issuer,
            jwks_uri: `${issuer}/jwks`,
            response_types_supported: ['code'],
            subject_types_supported: ['public'],
          }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body))
  })
  issuerServer.on('connection', () => issuerConnections++)
  // 'localhost' binds the address the gateway's own lookup finds first.
  await new Promise<void>((resolve) => issuerServer.listen(0, 'localhost', resolve))
  const bound = issuerServer.address() as AddressInfo
  address = isIP(bound.address) === 6 ? `[${bound.address}]:${bound.port}` : `${bound.address}:${bound.port}`
  issuer = `https://localhost:${bound.port}`
})
afterAll(async () => {
  https.globalAgent.options.ca = defaultCa
  await new Promise((resolve) => issuerServer?.close(resolve))
})

let proxy: TestProxy
beforeEach(async () => {
  proxy = await startProxy()
  issuerConnections = 0
  issuerHits.length = 0
})
afterEach(() => proxy.close())

const trusted = () => ({ trustedHosts: ['localhost'], proxy: { httpsProxy: proxy.url } })

describe('with HTTPS_PROXY set', () => {
  it('discovery goes through the proxy, which is asked to CONNECT to the checked address', async () => {
    // No insecure permission: the proxy's own loopback address is allowed, the target is trusted.
    await expect(discoverIssuer(issuer, { clientId: 'c', fetchPolicy: trusted() })).resolves.toMatchObject({
      issuer,
      jwksUri: `${issuer}/jwks`,
    })
    expect(proxy.connects).toEqual([address])
    expect(issuerHits).toEqual(['/.well-known/openid-configuration'])
  })

  it('JWKS fetches go through the proxy', async () => {
    const keys = createKeyResolver({ fetch: createGuardedFetch(trusted()) })
    await expect(keys.getKeys(`${issuer}/jwks`, { alg: 'RS256', kid: 'proxied-key' })).resolves.toHaveLength(1)
    expect(proxy.connects).toEqual([address])
    expect(issuerHits).toEqual(['/jwks'])
  })

  it('NO_PROXY sends a matching target directly', async () => {
    const fetchPolicy = {
      trustedHosts: ['localhost'],
      proxy: { httpsProxy: proxy.url, noProxy: '.example.com, localhost' },
    }
    await expect(discoverIssuer(issuer, { clientId: 'c', fetchPolicy })).resolves.toMatchObject({ issuer })
    expect(proxy.connections).toBe(0)
    expect(issuerConnections).toBe(1)
  })

  it('still refuses a private target, and nothing connects to it nor to the proxy', async () => {
    const fetchPolicy = { proxy: { httpsProxy: proxy.url } }
    for (const url of [issuer, issuer.replace('localhost', '127.0.0.1')]) {
      await expect(discoverIssuer(url, { clientId: 'c', fetchPolicy })).rejects.toMatchObject({
        code: 'ERR_ISSUER_ADDRESS_FORBIDDEN',
      })
    }
    const keys = createKeyResolver({ fetch: createGuardedFetch(fetchPolicy) })
    await expect(keys.getKeys(`${issuer}/jwks`, { alg: 'RS256' })).rejects.toMatchObject({
      code: 'ERR_KEYS_UNAVAILABLE',
      cause: { code: 'ERR_ISSUER_ADDRESS_FORBIDDEN' },
    })
    expect(proxy.connects).toEqual([])
    expect(proxy.connections).toBe(0)
    expect(issuerConnections).toBe(0)
  })

  it('an https:// proxy works too (TLS to the proxy, then TLS to the issuer inside it)', async () => {
    const tlsProxy = await startProxy(tls)
    try {
      const fetchPolicy = { trustedHosts: ['localhost'], proxy: { httpsProxy: tlsProxy.url } }
      await expect(discoverIssuer(issuer, { clientId: 'c', fetchPolicy })).resolves.toMatchObject({ issuer })
      expect(tlsProxy.connects).toEqual([address])
    } finally {
      await tlsProxy.close()
    }
  })

  it('checks the certificate of an address target against that address, not the proxy’s name', async () => {
    // The certificate names localhost only; so does the proxy's URL here.
    const httpsProxy = proxy.url.replace('127.0.0.1', 'localhost')
    const fetch = createGuardedFetch({ trustedHosts: ['127.0.0.1'], proxy: { httpsProxy } })
    await expect(fetch(`${issuer.replace('localhost', '127.0.0.1')}/jwks`)).rejects.toMatchObject({
      code: 'ERR_ISSUER_UNREACHABLE',
      message: expect.stringContaining('ERR_TLS_CERT_ALTNAME_INVALID'),
    })
    expect(proxy.connects).toEqual([address])
    expect(issuerHits).toEqual([])
  })

  it('says so when the proxy refuses the CONNECT, and sends nothing to the target', async () => {
    proxy.mode = 'refuse'
    await expect(createGuardedFetch(trusted())(`${issuer}/jwks`)).rejects.toMatchObject({
      code: 'ERR_ISSUER_UNREACHABLE',
      message: `${issuer}/jwks could not be reached: the proxy ${proxy.url} answered 403 Forbidden to CONNECT`,
    })
    expect(issuerConnections).toBe(0)
  })

  it('names the proxy when it cannot be reached', async () => {
    const down = proxy.url
    await proxy.close()
    await expect(
      createGuardedFetch({ trustedHosts: ['localhost'], proxy: { httpsProxy: down } })(issuer),
    ).rejects.toMatchObject({
      code: 'ERR_ISSUER_UNREACHABLE',
      message: expect.stringContaining(`through the proxy ${down} (ECONNREFUSED)`),
    })
  })

  it('keeps the timeout when the proxy never answers', async () => {
    proxy.mode = 'hang'
    const fetch = createGuardedFetch({ ...trusted(), timeout: 0.3 })
    await expect(fetch(`${issuer}/jwks`)).rejects.toMatchObject({ code: 'ERR_ISSUER_TIMEOUT' })
    expect(proxy.connects).toEqual([address])
    await vi.waitFor(() => expect(proxy.open()).toBe(0)) // the gateway hung up on the proxy
  })

  it('keeps refusing redirects and large bodies', async () => {
    const small = createGuardedFetch({ ...trusted(), maxBytes: 10 })
    await expect(small(`${issuer}/jwks`)).rejects.toMatchObject({ code: 'ERR_ISSUER_RESPONSE_TOO_LARGE' })
    await expect(small(`${issuer}/moved`)).rejects.toMatchObject({ code: 'ERR_ISSUER_REDIRECT' })
    expect(issuerHits).toEqual(['/jwks', '/moved'])
  })
})

describe('plain http: targets (insecure issuers allowed)', () => {
  it('go through HTTP_PROXY, not HTTPS_PROXY', async () => {
    const idp = await startIssuer()
    try {
      const discovery = `${idp.url}/.well-known/openid-configuration`
      const viaHttpsProxyOnly = createGuardedFetch({ allowInsecure: true, proxy: { httpsProxy: proxy.url } })
      expect((await viaHttpsProxyOnly(discovery)).status).toBe(200)
      expect(proxy.connections).toBe(0)
      const viaHttpProxy = createGuardedFetch({ allowInsecure: true, proxy: { httpProxy: proxy.url } })
      expect((await viaHttpProxy(discovery)).status).toBe(200)
      expect(proxy.connects).toEqual([new URL(idp.url).host])
    } finally {
      await idp.close()
    }
  })
})

describe('NO_PROXY, read as curl reads it', () => {
  const route = (noProxy: string, url: string) =>
    createProxyRouter({ httpsProxy: 'http://proxy.internal:3128', httpProxy: 'proxy.internal:3128', noProxy })(
      new URL(url),
    )?.origin ?? 'direct'

  it.each([
    ['id.example.com', 'https://id.example.com/', 'direct'],
    ['id.example.com', 'https://a.id.example.com/', 'direct'],
    ['id.example.com', 'https://example.com/', 'proxy'],
    ['example.com', 'https://example.com/', 'direct'],
    ['example.com', 'https://deep.id.example.com/', 'direct'],
    ['example.com', 'https://badexample.com/', 'proxy'],
    ['.example.com', 'https://example.com/', 'direct'],
    ['.example.com', 'https://id.example.com/', 'direct'],
    ['*.example.com', 'https://id.example.com/', 'direct'],
    ['EXAMPLE.com', 'https://ID.example.COM/', 'direct'],
    ['*', 'https://anything.test/', 'direct'],
    ['other.test, *', 'https://anything.test/', 'direct'],
    ['192.0.2.7', 'https://192.0.2.7/', 'direct'],
    ['192.0.2.7', 'https://192.0.2.8/', 'proxy'],
    ['10.0.0.0/8', 'https://10.20.30.40/', 'direct'],
    ['10.0.0.0/8', 'https://11.0.0.1/', 'proxy'],
    ['fd00::/8', 'https://[fd12::1]/', 'direct'],
    ['::1', 'https://[::1]:8443/', 'direct'],
    ['[::1]:8443', 'https://[::1]:8443/', 'direct'],
    ['[::1]:8443', 'https://[::1]/', 'proxy'],
    ['example.com:8443', 'https://example.com:8443/', 'direct'],
    ['example.com:443', 'https://example.com/', 'direct'],
    ['example.com:8443', 'https://example.com/', 'proxy'],
    ['example.com:80', 'http://example.com/', 'direct'],
    ['a.test, b.test example.com', 'https://x.example.com/', 'direct'],
    ['', 'https://example.com/', 'proxy'],
  ])('NO_PROXY=%j: %s goes %s', (noProxy, url, expected) => {
    expect(route(noProxy, url)).toBe(expected === 'proxy' ? 'http://proxy.internal:3128' : 'direct')
  })

  it('an address in NO_PROXY does not cover a host name (nothing is resolved to decide)', () => {
    expect(route('127.0.0.0/8', 'https://localhost/')).toBe('http://proxy.internal:3128')
  })
})

describe('proxyFromEnv', () => {
  it('reads lowercase first, as curl and undici do, and nothing when no proxy is set', () => {
    expect(
      proxyFromEnv({ https_proxy: 'http://a:1', HTTPS_PROXY: 'http://b:2', NO_PROXY: 'x.test', no_proxy: ' ' }),
    ).toEqual({ httpsProxy: 'http://a:1', noProxy: 'x.test' })
    expect(proxyFromEnv({ HTTP_PROXY: 'proxy.internal:3128' })).toEqual({ httpProxy: 'proxy.internal:3128' })
    expect(proxyFromEnv({ NO_PROXY: '*' })).toBeUndefined()
    expect(proxyFromEnv({})).toBeUndefined()
  })

  it.each([
    [{ HTTPS_PROXY: 'socks5://proxy.internal:1080' }, 'HTTPS_PROXY', 'only http:// and https:// proxies'],
    [{ https_proxy: 'http://' }, 'https_proxy', 'is not a URL'],
    [{ HTTP_PROXY: 'http://proxy.internal:3128/path' }, 'HTTP_PROXY', 'no path'],
    [{ HTTPS_PROXY: 'http://proxy.internal:99999' }, 'HTTPS_PROXY', 'is not a URL'],
    [{ HTTPS_PROXY: 'http://p:1', NO_PROXY: '10.0.0.0/33' }, 'NO_PROXY', 'is not an address or CIDR'],
    [{ HTTPS_PROXY: 'http://p:1', no_proxy: 'example.com/8' }, 'no_proxy', 'is not an address or CIDR'],
  ])('refuses %j, naming %s', (env, variable, reason) => {
    expect(() => proxyFromEnv(env)).toThrow(
      expect.objectContaining({ code: 'ERR_PROXY_INVALID', variable, message: expect.stringContaining(reason) }),
    )
  })

  it('never repeats a password in its message', () => {
    expect(() => proxyFromEnv({ HTTPS_PROXY: 'http://user:s3cret@proxy.internal:3128/x' })).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining('s3cret') }),
    )
  })

  it('createGuardedFetch checks proxy settings given in code, naming the field', () => {
    expect(() => createGuardedFetch({ proxy: { httpsProxy: 'ftp://proxy.internal' } })).toThrow(
      expect.objectContaining({ code: 'ERR_PROXY_INVALID', variable: 'proxy.httpsProxy' }),
    )
  })
  it("a key resolver on the runtime's fetch refuses a proxy rather than bypass it", () => {
    expect(() => createKeyResolver({ fetchPolicy: { proxy: { httpsProxy: 'http://proxy.internal:3128' } } })).toThrow(
      expect.objectContaining({ code: 'ERR_PROXY_INVALID', variable: 'proxy' }),
    )
  })
})
