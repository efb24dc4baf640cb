/**
 * What anyone who reaches the public listener can send the receiver routes: made-up and malformed
 * names, bodies that stop or crawl, invalid UTF-8, and throttle dodges. Over real HTTP on 127.0.0.1,
 * against a gateway process (what `backchannel serve` runs) and a gateway in this process (to see
 * its store and throttle).
 */
import { connect } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type GatewayProcess, postLogout, startGateway } from './fixtures/gateway-process.js'
import { type LoopbackGateway, startLoopbackGateway } from './fixtures/loopback-gateway.js'

/** Sends `head` (and optionally more) over a raw socket; resolves with all it received once the server closes. */
function rawExchange(url: string, send: (socket: ReturnType<typeof connect>) => void): Promise<string> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname, () => send(socket))
    let received = ''
    socket.on('data', (chunk) => (received += chunk))
    socket.on('error', () => {})
    socket.on('close', () => resolve(received))
  })
}

const headOf = (path: string, length: number) =>
  `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${length}\r\n\r\n`

describe('a gateway process', () => {
  let gateway: GatewayProcess
  beforeAll(async () => {
    gateway = await startGateway()
    await gateway.admin.apps.create.mutate({ name: 'edge' })
  })
  afterAll(async () => {
    expect(await gateway?.stop()).toBe(0)
  })

  it('names no unknown application or stream in metrics or the audit log', async () => {
    const statuses = [
      (await postLogout(gateway.url, 'ghost-1', 'logout_token=x', { 'content-type': 'application/json' })).status,
      (await fetch(`${gateway.url}/auth/logout/ghost-2`)).status,
      (await postLogout(gateway.url, 'ghost-3', `logout_token=${'x'.repeat(20_000)}`)).status,
      (await postLogout(gateway.url, 'ghost-4', 'logout_token=forged')).status,
      (await fetch(`${gateway.url}/ssf/ghost-5`)).status,
    ]
    // A known application's refusal is audited: once it is there, so would the ghosts' be.
    expect((await postLogout(gateway.url, 'edge', 'logout_token=forged')).status).toBe(400)
    await expect.poll(() => gateway.admin.audit.list.query({ app: 'edge', source: 'backchannel' })).toHaveLength(1)

    const metrics = await (await fetch(`${gateway.url}/metrics`)).text()
    expect(metrics).not.toContain('ghost-')
    expect(metrics).toMatch(
      /backchannel_logout_requests_total\{app="\(other\)",status="405",code="ERR_METHOD_NOT_ALLOWED"\} 1/,
    )
    expect(metrics).toMatch(
      /backchannel_logout_requests_total\{app="edge",status="400",code="ERR_LOGOUT_TOKEN_MALFORMED"\} 1/,
    )
    expect(metrics).toMatch(/backchannel_ssf_events_total\{stream="\(other\)",event="",outcome="rejected"\} 1/)
    const records = await gateway.admin.audit.list.query({ limit: 500 })
    expect(JSON.stringify(records)).not.toContain('ghost-')
    // An unknown application is 404 whatever its body; 405 and 413 are answered before any lookup.
    expect(statuses).toEqual([404, 405, 413, 404, 405])
    // Whoever registers `ghost-1` later inherits nothing.
    await gateway.admin.apps.create.mutate({ name: 'ghost-1' })
    expect(await gateway.admin.audit.list.query({ app: 'ghost-1', source: 'backchannel' })).toEqual([])
  })

  it('answers a name no application or stream can have 404, without echoing or logging it', async () => {
    const long = 'a'.repeat(8000)
    for (const [path, description] of [
      [`/auth/logout/${long}`, 'no application is registered at this path: logouts go to /auth/logout/APP'],
      ['/auth/logout/Edge', 'no application is registered at this path: logouts go to /auth/logout/APP'],
      ['/auth/logout/ssf%0Aedge', 'no application is registered at this path: logouts go to /auth/logout/APP'],
      [`/ssf/${long}`, undefined],
    ] as const) {
      const res = await fetch(`${gateway.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'logout_token=x',
      })
      expect(res.status).toBe(404)
      expect(res.headers.get('cache-control')).toBe('no-store')
      if (description) expect(await res.json()).toEqual({ error: 'invalid_request', error_description: description })
      else expect(await res.text()).toBe('')
    }
    // The log lines of those refusals are written by now (pino writes each line at once).
    await expect
      .poll(
        () =>
          gateway
            .stdout()
            .split('\n')
            .filter((l) => l.includes('"status":404')).length,
      )
      .toBe(6)
    expect(gateway.stdout()).not.toContain('aaaaaaaaaa')
    expect(gateway.stdout()).not.toContain('Edge')
  })

  it('answers a 16 KiB body of invalid UTF-8 as any bad token (400), not as too large (413)', async () => {
    const bytes = new Uint8Array(16 * 1024).fill(0xff)
    bytes.set(new TextEncoder().encode('logout_token='))
    const sized = await fetch(`${gateway.url}/auth/logout/edge`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new Blob([bytes]),
    })
    expect(sized.status).toBe(400)
    const chunked = await fetch(`${gateway.url}/auth/logout/edge`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new Blob([bytes]).stream(),
      duplex: 'half',
    } as RequestInit)
    expect(chunked.status).toBe(400)
    expect(await chunked.json()).toMatchObject({ error: 'invalid_request' })
  })

  it('takes a body the client abandons as a refusal (400), with no stack trace on stderr', async () => {
    await rawExchange(gateway.url, (socket) => {
      socket.write(`${headOf('/auth/logout/edge', 1000)}logout_token=abc`)
      setTimeout(() => socket.destroy(), 100)
    })
    const refused = () =>
      gateway
        .stdout()
        .split('\n')
        .filter((line) => line.includes('the body could not be read'))
    await expect.poll(refused).toHaveLength(1)
    expect(JSON.parse(refused()[0] as string)).toMatchObject({ status: 400, code: 'ERR_REQUEST_INVALID' })
    expect(gateway.stderr()).not.toMatch(/aborted|unhandled/)
  })

  it('closes a connection whose body still has not arrived after 15 s (408)', { timeout: 30_000 }, async () => {
    const received = await rawExchange(gateway.url, (socket) => {
      socket.write(`${headOf('/auth/logout/edge', 1000)}logout_token=`)
      // A byte now and then keeps the connection busy without ever finishing the body.
      const drip = setInterval(() => socket.write('a'), 1000)
      socket.on('close', () => clearInterval(drip))
    })
    expect(received).toMatch(/^HTTP\/1\.1 408 /)
  })
})

describe('a gateway in this process', () => {
  /** Runs `test` against a fresh in-process gateway on 127.0.0.1, closed after. */
  async function withGateway(
    options: Parameters<typeof startLoopbackGateway>[0],
    test: (gw: LoopbackGateway) => Promise<void>,
  ) {
    const gw = await startLoopbackGateway(options)
    try {
      await test(gw)
    } finally {
      await gw.close()
    }
  }
  const post = (gw: LoopbackGateway, path: string, headers: Record<string, string> = {}) =>
    fetch(`${gw.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: 'logout_token=x',
    })

  it('looks up no name that no application or stream can have', () =>
    withGateway({}, async (gw) => {
      const lookups: string[] = []
      const { apps, streams } = gw.store
      const [getApp, getStream] = [apps.get.bind(apps), streams.get.bind(streams)]
      apps.get = (name) => {
        lookups.push(name)
        return getApp(name)
      }
      streams.get = (name) => {
        lookups.push(name)
        return getStream(name)
      }
      expect((await post(gw, `/auth/logout/${'b'.repeat(8000)}`)).status).toBe(404)
      expect((await post(gw, `/ssf/${'b'.repeat(8000)}`)).status).toBe(404)
      expect((await post(gw, '/auth/logout/-edge')).status).toBe(404)
      // Not percent-encoding at all: a bad request, naming the part of the path.
      for (const [path, what] of [
        ['/auth/logout/wiki%E0', 'application'],
        ['/ssf/idp%E0', 'stream'],
      ] as const) {
        const res = await post(gw, path)
        expect(res.status).toBe(400)
        expect(JSON.stringify(await res.json())).toContain(`the ${what} name in the path is not valid percent-encoding`)
      }
      expect(lookups).toEqual([])
      // A name that could be one is looked up (and is unknown).
      expect((await post(gw, '/auth/logout/ghost')).status).toBe(404)
      expect((await post(gw, '/ssf/ghost')).status).toBe(404)
      expect(lookups).toEqual(['ghost', 'ghost'])
    }))

  it("keeps the two routes' throttles apart: failures on /auth/logout never count against a stream", () =>
    withGateway({ failureLimits: { perAddress: 1000, perApp: 3 } }, async (gw) => {
      const logouts = []
      for (let i = 0; i < 4; i++) logouts.push((await post(gw, '/auth/logout/ssf%0As')).status)
      expect(logouts).toEqual([404, 404, 404, 429])
      expect((await post(gw, '/ssf/s')).status).toBe(404)
    }))

  it('throttles an IPv6 client by its /64, whichever of its addresses it uses', () =>
    withGateway({ trustProxy: true, failureLimits: { perAddress: 3, perApp: 1000 } }, async (gw) => {
      const from = (address: string) => post(gw, '/auth/logout/nope', { 'x-forwarded-for': address })
      const statuses = []
      for (let i = 1; i <= 4; i++) statuses.push((await from(`2001:db8:0:1::${i}`)).status)
      expect(statuses).toEqual([404, 404, 404, 429])
      expect((await from('2001:db8:0:1:ffff:ffff:ffff:ffff')).status).toBe(429)
      // Another /64, and IPv4 clients (also as IPv4-mapped addresses), are counted on their own.
      expect((await from('2001:db8:0:2::1')).status).toBe(404)
      expect((await from('::ffff:192.0.2.1')).status).toBe(404)
      expect((await from('::ffff:192.0.2.2')).status).toBe(404)
    }))
})
