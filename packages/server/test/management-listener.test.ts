/**
 * `BACKCHANNEL_MANAGEMENT_ADDRESS`, over real sockets to a gateway process: `/trpc`,
 * `/metrics` and the admin console `/admin` answer on the management listener only, the public one answers them 404 in the
 * documented shape and keeps the logout route and health; the same under `--workers 2`.
 */
import { mkdtempSync } from 'node:fs'
import { get } from 'node:http'
import { type AddressInfo, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createAdminClient } from '@backchannel/admin/client'
import { SignJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADMIN_TOKEN, type GatewayProcess, postLogout, runCli, startGateway } from './fixtures/gateway-process.js'

/** A loopback port nothing listens on right now. */
async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** The management listener's URL, from the banner. */
const managementUrlOf = (gateway: GatewayProcess) =>
  /management \([^)]*\) on (http:\/\/\S+)/.exec(gateway.stderr())?.[1]

const cases: [string, () => Promise<Record<string, string>>][] = [
  ['one process', async () => ({ BACKCHANNEL_MANAGEMENT_ADDRESS: '127.0.0.1:0' })],
  [
    '--workers 2',
    // Under node:cluster both listeners are shared sockets: a fixed management port keeps them apart.
    async () => ({
      BACKCHANNEL_MANAGEMENT_ADDRESS: `127.0.0.1:${await freePort()}`,
      BACKCHANNEL_WORKERS: '2',
      BACKCHANNEL_STORAGE: `fs://${mkdtempSync(join(tmpdir(), 'bc-management-'))}`,
    }),
  ],
]

describe.each(cases)('a management listener, %s', (_name, env) => {
  let gateway: GatewayProcess
  let management: string
  beforeAll(async () => {
    gateway = await startGateway(await env())
    management = managementUrlOf(gateway) ?? ''
  })
  afterAll(async () => {
    expect(await gateway?.stop()).toBe(0)
  })

  it('is on its own port, named in the banner', () => {
    expect(management).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(management).not.toBe(gateway.url)
  })

  it('serves the admin console there, its session good on every worker; the public listener answers /admin 404', async () => {
    const signIn = await fetch(`${management}/admin/sign-in`, {
      method: 'POST',
      body: new URLSearchParams({ token: ADMIN_TOKEN }),
      headers: { 'sec-fetch-site': 'same-origin' },
      redirect: 'manual',
    })
    expect(signIn.status).toBe(303)
    const cookie = (signIn.headers.get('set-cookie') ?? '').split(';')[0] ?? ''
    // A new connection each time: under --workers 2 they are shared between the workers, and the
    // session is good on each (it is in the store, not in a worker's memory).
    const status = () =>
      new Promise<number | undefined>((resolve, reject) =>
        get(`${management}/admin/apps`, { headers: { cookie }, agent: false }, (res) => {
          res.resume()
          resolve(res.statusCode)
        }).on('error', reject),
      )
    for (let i = 0; i < 6; i++) expect(await status()).toBe(200)
    for (const path of ['/admin', '/admin/sign-in', '/admin/assets/console.css']) {
      expect((await fetch(`${gateway.url}${path}`, { redirect: 'manual' })).status, path).toBe(404)
    }
  })

  it('serves /trpc, /metrics and /openapi.json there, and the public listener answers them 404 in the documented shape', async () => {
    const admin = createAdminClient({ url: `${management}/trpc`, token: ADMIN_TOKEN })
    expect(await admin.apps.list.query()).toEqual([])
    const metrics = await fetch(`${management}/metrics`)
    expect(metrics.status).toBe(200)
    expect(await metrics.text()).toContain('backchannel_logout_requests_total')
    expect((await (await fetch(`${management}/openapi.json`)).json()).openapi).toBe('3.1.0')

    for (const path of ['/trpc/apps.list', '/trpc', '/metrics', '/metrics/', '/openapi.json']) {
      const res = await fetch(`${gateway.url}${path}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
      expect(res.status, path).toBe(404)
      expect(res.headers.get('cache-control')).toBe('no-store')
      expect(await res.json()).toEqual({ error: 'not_found', error_description: expect.any(String) })
    }
  })

  it('leaves the logout route and health on the public listener, and only there', async () => {
    const admin = createAdminClient({ url: `${management}/trpc`, token: ADMIN_TOKEN })
    const app = `mgmt-${Date.now()}`
    const { secret } = await admin.apps.create.mutate({ name: app })
    await admin.sessions.register.mutate({ app, sessionId: 's-1', sub: 'user-1' })
    const token = await new SignJWT({ sub: 'user-1' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuedAt()
      .sign(new TextEncoder().encode(secret as string))

    expect((await postLogout(management, app, new URLSearchParams({ logout_token: token }))).status).toBe(404)
    expect((await postLogout(gateway.url, app, new URLSearchParams({ logout_token: token }))).status).toBe(200)
    expect((await admin.sessions.status.query({ app, sessionId: 's-1' })).state).toBe('revoked')

    expect((await fetch(`${gateway.url}/readyz`)).status).toBe(200)
    expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200)
    expect((await fetch(`${management}/readyz`)).status).toBe(404)
  })
})

describe('a management address in use', () => {
  it('stops the start, naming BACKCHANNEL_MANAGEMENT_ADDRESS and the port', async () => {
    const taken = createServer()
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
    const { port } = taken.address() as AddressInfo
    try {
      const { code, stderr } = await runCli(['serve'], {
        BACKCHANNEL_STORAGE: 'memory://',
        HOST: '127.0.0.1',
        PORT: '0',
        BACKCHANNEL_MANAGEMENT_ADDRESS: `127.0.0.1:${port}`,
      })
      expect(code).not.toBe(0)
      expect(stderr).toContain(
        `BACKCHANNEL_MANAGEMENT_ADDRESS: port ${port} on 127.0.0.1 is already in use (EADDRINUSE)`,
      )
      expect(stderr).not.toContain('listening on')
    } finally {
      taken.close()
    }
  })
})
