/**
 * Serving behind a reverse proxy, over a socket to a real gateway process: malformed and near
 * logout paths get the route's own answer, the throttle counts them per client address read
 * from the right of X-Forwarded-For, every answer carries a request id, and /metrics uses
 * Node's standard names.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type GatewayProcess, startGateway } from './fixtures/gateway-process.js'

let gateway: GatewayProcess
beforeAll(async () => {
  gateway = await startGateway({ BACKCHANNEL_TRUSTED_PROXIES: '127.0.0.1/32', BACKCHANNEL_FAILURE_LIMITS: '3,300,60' })
})
afterAll(async () => {
  expect(await gateway?.stop()).toBe(0)
})

/** A POST to a raw path, as if through our proxy for `client`. */
const post = (path: string, client: string, headers: Record<string, string> = {}) =>
  fetch(`${gateway.url}${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-forwarded-for': `${client}, 127.0.0.1`,
      ...headers,
    },
    body: 'logout_token=x.y.z',
  })

describe('paths the logout route cannot use', () => {
  for (const [i, [path, status]] of (
    [
      ['/auth/logout/%ZZ', 400],
      ['/auth/logout/%C0%AE%C0%AE', 400],
      ['/auth/logout/', 404],
      ['/auth/logout/a/b', 404],
    ] as const
  ).entries()) {
    it(`${path} → ${status} in the documented shape, no-store, echoing nothing`, async () => {
      const res = await post(path, `198.51.100.1${i}`)
      expect(res.status).toBe(status)
      expect(res.headers.get('cache-control')).toBe('no-store')
      const text = await res.text()
      expect(Object.keys(JSON.parse(text))).toEqual(['error', 'error_description'])
      expect(JSON.parse(text).error).toBe('invalid_request')
      for (const echoed of ['%ZZ', '%C0', 'a/b', '/auth/logout/"', 'Bad Request']) expect(text).not.toContain(echoed)
    })
  }

  it('counts them towards the failure limit of the address', async () => {
    const statuses = []
    for (let i = 0; i < 4; i++) statuses.push((await post('/auth/logout/%ZZ', '198.51.100.2')).status)
    expect(statuses).toEqual([400, 400, 400, 429])
  })
})

describe('the client address behind a trusted proxy', () => {
  it('is the rightmost X-Forwarded-For entry not a proxy: a forged leftmost entry does not dodge the limit', async () => {
    const statuses = []
    for (let i = 0; i < 4; i++) {
      statuses.push((await post('/auth/logout/nope', `forged-${i}, 198.51.100.3`)).status)
    }
    expect(statuses).toEqual([404, 404, 404, 429])
    // Another client behind the same proxy has its own count.
    expect((await post('/auth/logout/nope', '198.51.100.4')).status).toBe(404)
  })
})

describe('request ids', () => {
  it('keeps a short incoming X-Request-Id, echoes it and logs it with the logout', async () => {
    const res = await post('/auth/logout/nope', '198.51.100.5', { 'x-request-id': 'proxy-1234.abc' })
    expect(res.headers.get('x-request-id')).toBe('proxy-1234.abc')
    await expect
      .poll(() =>
        gateway
          .stdout()
          .split('\n')
          .filter((line) => line.includes('"requestId":"proxy-1234.abc"')),
      )
      .toHaveLength(1)
    const line = JSON.parse(
      gateway
        .stdout()
        .split('\n')
        .find((l) => l.includes('proxy-1234.abc')) as string,
    )
    expect(line).toMatchObject({ level: 'warn', msg: 'logout refused', status: 404 })
  })

  it('replaces one that is not a short token, and gives every request one', async () => {
    const long = await post('/auth/logout/nope', '198.51.100.6', { 'x-request-id': 'x'.repeat(65) })
    const odd = await post('/auth/logout/nope', '198.51.100.6', { 'x-request-id': 'a b"{}' })
    const none = await fetch(`${gateway.url}/healthz`)
    const ids = [long, odd, none].map((r) => r.headers.get('x-request-id'))
    for (const id of ids) expect(id).toMatch(/^[0-9a-f-]{36}$/)
    expect(new Set(ids).size).toBe(3)
  })
})

describe('start-up and metrics', () => {
  it('warns at start that insecure issuers are allowed', async () => {
    await expect.poll(() => gateway.stdout()).toMatch(/"level":"warn".*"msg":"BACKCHANNEL_ALLOW_INSECURE_ISSUERS is on/)
  })

  it("names Node's metrics as stock dashboards expect, with the build's version", async () => {
    const text = await (await fetch(`${gateway.url}/metrics`)).text()
    expect(text).toMatch(/^process_cpu_seconds_total \d/m)
    expect(text).toMatch(/^nodejs_heap_size_used_bytes \d/m)
    expect(text).not.toContain('backchannel_process_')
    expect(text).toMatch(/^backchannel_build_info\{version="\d+\.\d+\.\d+[^"]*"\} 1$/m)
  })
})
