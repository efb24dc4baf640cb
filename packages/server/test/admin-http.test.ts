/**
 * The admin API over HTTP, as curl sees it: plain JSON, every procedure refused without a
 * token, with a wrong token and with another app's API key; secrets only in the response that
 * creates them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADMIN_TOKEN, type GatewayProcess, startGateway } from './fixtures/gateway-process.js'

let gateway: GatewayProcess
let billing: { secret?: string; apiKey: string }
let other: { apiKey: string }

beforeAll(async () => {
  gateway = await startGateway()
  billing = await gateway.admin.apps.create.mutate({ name: 'billing' })
  other = await gateway.admin.apps.create.mutate({ name: 'other' })
})
afterAll(async () => {
  expect(await gateway?.stop()).toBe(0)
})

/** A tRPC call the way curl makes it: GET ?input= for queries, POST JSON for mutations. */
function call(path: string, kind: 'query' | 'mutation', input: unknown, token?: string) {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {}
  const url = `${gateway.url}/trpc/${path}`
  return kind === 'query'
    ? fetch(`${url}?input=${encodeURIComponent(JSON.stringify(input))}`, { headers })
    : fetch(url, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify(input),
      })
}

// `owner`: the admin token or that application's own API key (its reads and rotations), as `session`.
const PROCEDURES: [string, 'query' | 'mutation', unknown, 'admin' | 'owner' | 'session'][] = [
  ['apps.create', 'mutation', { name: 'new-app' }, 'admin'],
  ['apps.list', 'query', {}, 'admin'],
  ['apps.get', 'query', { name: 'billing' }, 'owner'],
  ['apps.update', 'mutation', { name: 'billing', policy: { maxTokenAge: 60 } }, 'admin'],
  ['apps.delete', 'mutation', { name: 'billing' }, 'admin'],
  ['apps.rotateSecret', 'mutation', { name: 'billing' }, 'owner'],
  ['apps.rotateApiKey', 'mutation', { name: 'billing' }, 'owner'],
  ['apps.rediscover', 'mutation', { name: 'billing' }, 'admin'],
  ['audit.list', 'query', {}, 'admin'],
  ['sessions.register', 'mutation', { app: 'billing', sessionId: 's', sub: 'u' }, 'session'],
  ['sessions.status', 'query', { app: 'billing', sessionId: 's' }, 'session'],
  ['sessions.list', 'query', { app: 'billing', sub: 'u' }, 'session'],
  ['sessions.end', 'mutation', { app: 'billing', sessionId: 's' }, 'session'],
  ['sessions.revoke', 'mutation', { app: 'billing', sub: 'u' }, 'session'],
]

describe('admin API security', () => {
  for (const [path, kind, input, scope] of PROCEDURES) {
    it(`${path}: refused without a token, with a wrong token, and with another app's key`, async () => {
      for (const [token, status] of [
        [undefined, 401],
        ['bca_not-the-admin-token', 401],
        [other.apiKey, 403],
      ] as const) {
        const res = await call(path, kind, input, token)
        expect(res.status, `${path} with ${token ?? 'no token'}`).toBe(status)
        const body = (await res.json()) as { error: { data: { code: string } } }
        expect(body.error.data.code).toBe(status === 401 ? 'UNAUTHORIZED' : 'FORBIDDEN')
      }
      if (scope === 'admin') expect((await call(path, kind, input, billing.apiKey)).status).toBe(403)
    })
  }

  it("an app's own key reaches its sessions over plain JSON", async () => {
    const res = await call(
      'sessions.register',
      'mutation',
      { app: 'billing', sessionId: 's1', sub: 'u' },
      billing.apiKey,
    )
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ result: { data: { sessionId: 's1', sub: 'u' } } })
    const status = await call('sessions.status', 'query', { app: 'billing', sessionId: 's1' }, billing.apiKey)
    expect(await status.json()).toEqual({ result: { data: { state: 'active' } } })
  })

  it('secrets appear only in the response that creates them', async () => {
    const responses = await Promise.all([
      call('apps.list', 'query', {}, ADMIN_TOKEN).then((r) => r.text()),
      call('apps.get', 'query', { name: 'billing' }, ADMIN_TOKEN).then((r) => r.text()),
      call('apps.update', 'mutation', { name: 'billing', policy: { maxTokenAge: 120 } }, ADMIN_TOKEN).then((r) =>
        r.text(),
      ),
      call('audit.list', 'query', {}, ADMIN_TOKEN).then((r) => r.text()),
    ])
    for (const text of responses) {
      expect(text).not.toContain(billing.secret)
      expect(text).not.toContain(billing.apiKey)
      expect(text).not.toMatch(/bcs_|bck_|apiKeyHash|sealed/)
    }
  })

  it('names the field of a bad input', async () => {
    const res = await call('apps.create', 'mutation', { name: 'Bad Name!' }, ADMIN_TOKEN)
    expect(res.status).toBe(400)
    const body = (await res.json()) as { error: { message: string; data: { code: string } } }
    expect(body.error.data.code).toBe('BAD_REQUEST')
    expect(body.error.message).toMatch(/^name: must be 1–63 lowercase letters/)
  })

  it('refuses an issuer that fails discovery, saying why', async () => {
    const res = await call(
      'apps.create',
      'mutation',
      { name: 'bad-issuer', issuer: 'https://127.0.0.1:1', clientId: 'c' },
      ADMIN_TOKEN,
    )
    const body = (await res.json()) as { error: { message: string; data: { backchannelCode: string } } }
    expect(res.status).toBe(400)
    expect(body.error.data.backchannelCode).toMatch(/^ERR_ISSUER_/)
    expect(body.error.message.length).toBeGreaterThan(10)
  })
})
