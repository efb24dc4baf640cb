/**
 * `backchannel serve --workers 2`: two processes on one port over one shared store. A logout
 * answered by one worker is seen by the other, a killed worker loses no acknowledged logout and is
 * replaced, `/metrics` counts the whole gateway, and the admin token is generated once.
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import http from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createAdminClient } from '@backchannel/admin/client'
import { SignJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { type GatewayProcess, runCli, startGateway } from './fixtures/gateway-process.js'
import './setup/provided.js'

const redisUrl = inject('redisUrl')
if (!redisUrl)
  console.warn('\n⚠ SKIPPING the --workers test: redis-server is not installed (apt-get install -y redis-server).\n')

/** One request on a connection of its own, so the cluster hands each to the next worker. */
function request(
  url: string,
  path: string,
  { method = 'GET', body = '', headers = {} as Record<string, string> } = {},
) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = http.request(`${url}${path}`, { method, agent: false, headers }, (res) => {
      let text = ''
      res.on('data', (chunk) => (text += chunk))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }))
    })
    req.on('error', reject)
    // A request handed to a worker at the moment it is killed gets no answer: fail it, not the test.
    req.setTimeout(5000, () => req.destroy(new Error('no answer within 5 s')))
    req.end(body)
  })
}

const engines: [string, () => Record<string, string>][] = [
  ['fs', () => ({ BACKCHANNEL_STORAGE: `fs://${mkdtempSync(join(tmpdir(), 'bc-workers-'))}` })],
  [
    'Redis',
    () => ({
      BACKCHANNEL_STORAGE: `${redisUrl}/5`,
      BACKCHANNEL_MASTER_KEY: randomBytes(32).toString('base64url'),
    }),
  ],
]

describe.each(engines)('serve --workers 2 on %s', (engine, storageEnv) => {
  if (engine === 'Redis' && !redisUrl) return
  let gw: GatewayProcess
  let admin: ReturnType<typeof createAdminClient>
  let adminToken: string
  let secret: string
  const app = `workers-${Date.now()}`

  beforeAll(async () => {
    gw = await startGateway({
      ...storageEnv(),
      BACKCHANNEL_ADMIN_TOKEN: '', // generated at first start: by the primary, once
      BACKCHANNEL_WORKERS: '2',
    })
    adminToken = /BACKCHANNEL_ADMIN_TOKEN=(\S+)/.exec(gw.stderr())?.[1] ?? ''
    admin = createAdminClient({ url: `${gw.url}/trpc`, token: adminToken })
  })
  afterAll(async () => {
    expect(await gw?.stop()).toBe(0)
  })

  const mint = (sub: string) =>
    new SignJWT({ sub }).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().sign(new TextEncoder().encode(secret))
  const logout = async (sub: string) =>
    request(gw.url, `/auth/logout/${app}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `logout_token=${await mint(sub)}`,
    })
  /** A session's state, asked on a connection of its own (so of either worker). */
  const status = async (sessionId: string, attempts = 3): Promise<string> => {
    const input = encodeURIComponent(JSON.stringify({ app, sessionId }))
    const answer = await request(gw.url, `/trpc/sessions.status?input=${input}`, {
      headers: { authorization: `Bearer ${adminToken}` },
    }).catch((err: Error) => {
      // Right after a kill, a connection may still be handed to the dead worker: ask again.
      if (attempts > 1) return undefined
      throw err
    })
    if (!answer) return status(sessionId, attempts - 1)
    return (JSON.parse(answer.body) as { result: { data: { state: string } } }).result.data.state
  }
  /** The pids of the processes that logged an answered logout. */
  const logoutPids = () =>
    new Set(
      gw
        .stdout()
        .split('\n')
        .filter((line) => line.includes('"msg":"logout"') && line.includes(`"app":"${app}"`))
        .map((line) => (JSON.parse(line) as { pid: number }).pid),
    )

  it('prints one banner and generates the admin token once', () => {
    expect(gw.stderr().match(/listening on/g)).toHaveLength(1)
    expect(gw.stderr().match(/Generated the admin token/g)).toHaveLength(1)
    expect(adminToken).toMatch(/^bca_/)
  })

  it('a logout answered by one worker is seen by the other', async () => {
    secret = (await admin.apps.create.mutate({ name: app })).secret as string
    for (let i = 0; i < 6; i++) await admin.sessions.register.mutate({ app, sessionId: `s${i}`, sub: `user-${i}` })
    for (let i = 0; i < 6; i++) expect((await logout(`user-${i}`)).status).toBe(200)
    // Each logout came on its own connection: the cluster spread them over both workers.
    await expect.poll(() => logoutPids().size, { timeout: 3000 }).toBe(2)
    // …and so were these queries: every logout is seen whichever worker answers.
    for (let i = 0; i < 6; i++) expect(await status(`s${i}`)).toBe('revoked')
  })

  it('/metrics counts the logouts of every worker', async () => {
    const text = (await request(gw.url, '/metrics')).body
    const answered = text
      .split('\n')
      .filter((line) => line.startsWith('backchannel_logout_requests_total{') && line.includes(`app="${app}"`))
      .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0)
    expect(answered).toBe(6)
    // Each worker reports its build; the primary keeps one, not their sum.
    expect(text).toMatch(/^backchannel_build_info\{version="\d+\.\d+\.\d+[^"]*"\} 1$/m)
  })

  it('a killed worker loses no acknowledged logout, and is replaced', async () => {
    const before = logoutPids()
    const victim = [...before][0] as number
    for (let i = 0; i < 40; i++) await admin.sessions.register.mutate({ app, sessionId: `k${i}`, sub: `kill-${i}` })
    const acknowledged: number[] = []
    await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const answer = await logout(`kill-${i}`).catch(() => undefined)
        if (answer?.status !== 200) return
        acknowledged.push(i)
        if (acknowledged.length === 10) process.kill(victim, 'SIGKILL') // with the other 30 in flight
      }),
    )
    expect(acknowledged.length).toBeGreaterThanOrEqual(10)
    for (const i of acknowledged) expect(await status(`k${i}`)).toBe('revoked')
    // A new worker took the dead one's place and answers logouts.
    await expect.poll(() => gw.stdout()).toContain('a worker died; starting another')
    await expect
      .poll(
        async () => {
          await logout('after')
          return [...logoutPids()].some((pid) => !before.has(pid))
        },
        { timeout: 10_000, interval: 200 },
      )
      .toBe(true)
  })

  it('/metrics survives a worker that stops answering and one that dies while waiting', async () => {
    // The workers now running: those that said they listen and are still alive.
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0)
        return true
      } catch {
        return false
      }
    }
    const workers = () =>
      [
        ...new Set(
          gw
            .stdout()
            .split('\n')
            .filter((line) => line.includes('"msg":"listening"'))
            .map((line) => (JSON.parse(line) as { pid: number }).pid),
        ),
      ].filter(alive)
    // Log lines are written asynchronously: wait for both workers' lines.
    await expect.poll(() => workers().length).toBe(2)
    const [stuck, asking] = workers() as [number, number]
    // The primary waits for the stuck worker's metrics; meanwhile the worker that asked is killed,
    // and the primary's answer then goes to a closed channel.
    process.kill(stuck, 'SIGSTOP')
    const requests = Array.from({ length: 4 }, () => request(gw.url, '/metrics').catch(() => undefined))
    await new Promise((resolve) => setTimeout(resolve, 500))
    process.kill(asking, 'SIGKILL')
    await Promise.all(requests)
    process.kill(stuck, 'SIGCONT')
    // The primary is still there: it replaced the dead worker, and /metrics answers again.
    await expect
      .poll(async () => (await request(gw.url, '/metrics').catch(() => undefined))?.status, { timeout: 15_000 })
      .toBe(200)
    expect(gw.stderr()).not.toContain('Channel closed')
  }, 30_000)
})

describe.skipIf(!redisUrl)('serve --workers 2 that cannot start', () => {
  it('stops with exit 1 when a worker fails to start, instead of starting it again and again', async () => {
    const taken = http.createServer()
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
    const { port } = taken.address() as { port: number }
    const { code, stderr } = await runCli(['serve', '--workers', '2'], {
      PORT: String(port),
      HOST: '127.0.0.1',
      BACKCHANNEL_STORAGE: `${redisUrl}/5`,
      BACKCHANNEL_MASTER_KEY: randomBytes(32).toString('base64url'),
      BACKCHANNEL_ADMIN_TOKEN: 'bca_workers-test-admin-token-0123456789',
    })
    taken.close()
    expect(code).toBe(1)
    expect(stderr).toContain('EADDRINUSE')
  })
})
