/**
 * The server reads `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY` at start, refuses a bad one before
 * it listens, and sends discovery through the proxy. What the proxy route does (tunnels, NO_PROXY,
 * the address policy) is proven in packages/core/test/outbound-proxy.test.ts.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { startDevIdp } from 'dev-idp'
import { describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from '../src/config.js'
import { runCli, startGateway } from './fixtures/gateway-process.js'

describe('loadConfig', () => {
  it('reads the proxy variables, lowercase first', () => {
    expect(loadConfig({ HTTPS_PROXY: 'http://proxy.internal:3128', no_proxy: '.internal' }).proxy).toEqual({
      httpsProxy: 'http://proxy.internal:3128',
      noProxy: '.internal',
    })
    expect(loadConfig({}).proxy).toBeUndefined()
  })

  it('refuses a proxy URL it cannot use, naming the variable', () => {
    expect(() => loadConfig({ https_proxy: 'socks5://proxy.internal:1080' })).toThrow(
      new ConfigError(
        'https_proxy',
        '"socks5://proxy.internal:1080": only http:// and https:// proxies are supported (HTTP CONNECT)',
      ),
    )
  })

  it('stops `backchannel serve` before it listens (exit 2, no stack trace)', async () => {
    const { code, stderr, stdout } = await runCli(['serve'], {
      PORT: '0',
      BACKCHANNEL_STORAGE: 'memory://',
      HTTPS_PROXY: 'http://proxy.internal:3128',
      NO_PROXY: '10.0.0.0/40',
    })
    expect(code).toBe(2)
    expect(stderr).toContain('NO_PROXY: "10.0.0.0/40" is not an address or CIDR')
    expect(stderr).not.toMatch(/\n\s+at /)
    expect(stdout).not.toContain('listening')
  })
})

it('the running gateway sends discovery through HTTP_PROXY', async () => {
  // A proxy that records each CONNECT and refuses it: enough to see where discovery went.
  const connects: string[] = []
  const proxy: Server = createServer().on('connect', (req, client: Socket) => {
    connects.push(String(req.url))
    client.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n')
  })
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
  const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`
  const idp = await startDevIdp({ clients: [] })
  // The fixture allows insecure issuers, so the dev IdP's http: issuer takes HTTP_PROXY.
  const gateway = await startGateway({ HTTP_PROXY: proxyUrl, NO_PROXY: 'elsewhere.test' })
  try {
    const create = gateway.admin.apps.create.mutate({ name: 'wiki', issuer: idp.issuer, clientId: 'wiki' })
    await expect(create).rejects.toThrow(`the proxy ${proxyUrl} answered 403 Forbidden to CONNECT`)
    expect(connects).toEqual([new URL(idp.issuer).host])
  } finally {
    await gateway.stop()
    await idp.close()
    await new Promise((resolve) => proxy.close(resolve))
  }
})
