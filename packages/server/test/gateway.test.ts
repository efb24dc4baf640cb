/** createGateway in process, through app.request: what the HTTP layer answers when storage fails. */
import { hashToken } from '@backchannel/admin'
import { errorStatus, errors, replayKey } from '@backchannel/core'
import { mintLogoutToken } from '@backchannel/core/mint'
import { type BackchannelStore, createStore, type StoreBackend } from '@backchannel/unstorage'
import { memoryStore } from '@backchannel/unstorage/memory'
import { SignJWT } from 'jose'
import pino from 'pino'
import { beforeEach, describe, expect, it } from 'vitest'
import { createGateway } from '../src/index.js'

const SECRET = 'bcs_an-hmac-secret-for-this-test-0123456789'
let store: ReturnType<typeof memoryStore>
let gateway: ReturnType<typeof createGateway>

beforeEach(() => useStore(memoryStore()))

async function useStore(s: BackchannelStore) {
  store = s
  gateway = createGateway({ store, adminTokenHash: hashToken('bca_x'.repeat(8)) })
  await store.apps.create({
    kind: 'hmac',
    name: 'billing',
    secrets: [{ key: new TextEncoder().encode(SECRET) }],
    apiKeyHash: 'a'.repeat(64),
    createdAt: 0,
    updatedAt: 0,
  })
  await store.register({ app: 'billing', iss: '', sessionId: 's1', sub: 'u' })
}

// What an HMAC integrator's backend sends: a token from @backchannel/core/mint.
const mint = () => mintLogoutToken({ secret: SECRET, sub: 'u' })
const logout = async (token?: string) =>
  gateway.app.request('/auth/logout/billing', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `logout_token=${token ?? (await mint())}`,
  })
const down = () => Promise.reject(new errors.StoreUnavailable('the store failed'))
/** Makes every way of revoking fail, as a store that went away would; returns how to undo it. */
const revocationsFail = () => {
  const { revoke, claimAndRevoke } = store
  Object.assign(store, { revoke: down, claimAndRevoke: down })
  return () => Object.assign(store, { revoke, claimAndRevoke })
}

describe('when storage is unreachable', () => {
  it('answers 503 with Retry-After, acknowledges nothing, and counts a store error', async () => {
    revocationsFail()
    const res = await logout()
    expect(res.status).toBe(503)
    expect(res.headers.get('retry-after')).toBe('5')
    expect(res.headers.get('cache-control')).toBe('no-store')
    expect(await res.json()).toMatchObject({ error: 'temporarily_unavailable' })
    expect(await gateway.metrics.registry.getSingleMetricAsString('backchannel_store_errors_total')).toMatch(/ 1$/)
  })

  it("processes the IdP's retry of the same token once storage is back (no replay claim was kept)", async () => {
    const token = await mint()
    const restore = revocationsFail()
    expect((await logout(token)).status).toBe(503)
    expect(await store.status('billing', 's1')).toEqual({ state: 'active' })
    restore()
    expect((await logout(token)).status).toBe(200)
    expect(await store.status('billing', 's1')).toMatchObject({ state: 'revoked' })
  })

  it('processes the retry of a token claimed by a process that stopped before revoking', async () => {
    const jti = crypto.randomUUID()
    await store.claim(replayKey('billing', '', jti), Date.now() / 1000 + 600)
    const token = await new SignJWT({ sub: 'u', jti })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuedAt()
      .sign(new TextEncoder().encode(SECRET))
    expect((await logout(token)).status).toBe(200)
    expect(await store.status('billing', 's1')).toMatchObject({ state: 'revoked' })
    // The audit record is written after the answer.
    await gateway.close()
    expect((await store.audit.list({ app: 'billing' })).map((r) => r.outcome)).toEqual(['revoked'])
  })

  it('reports /readyz 503 while the store does not answer, 200 again after', async () => {
    const ping = store.ping
    store.ping = down
    const res = await gateway.app.request('/readyz')
    expect(res.status).toBe(503)
    expect(await res.json()).toEqual({ status: 'unavailable' })
    store.ping = ping
    expect((await gateway.app.request('/readyz')).status).toBe(200)
  })
})

describe("the logout's writes", () => {
  /** Uses a memory store whose backend records which of its write methods are called. */
  const countWrites = async () => {
    const calls: string[] = []
    const base = memoryStore().backend
    const backend: StoreBackend = Object.create(base)
    for (const name of ['claim', 'setMany', 'claimAndSetMany'] as const) {
      const write = base[name] as (...args: unknown[]) => Promise<unknown>
      backend[name] = ((...args: unknown[]) => {
        calls.push(name)
        return write.apply(base, args)
      }) as never
    }
    await useStore(createStore(backend, { masterKey: new Uint8Array(32) }))
    calls.length = 0 // registering the application claimed its name
    return calls
  }

  it('claims and revokes in one backend write when the store is also the session store', async () => {
    const calls = await countWrites()
    expect((await logout()).status).toBe(200)
    expect(calls).toEqual(['claimAndSetMany'])
  })

  it('claims, then revokes, when the sessions live in another store', async () => {
    const calls = await countWrites()
    const sessions = memoryStore()
    await sessions.register({ app: 'billing', iss: '', sessionId: 's1', sub: 'u' })
    gateway = createGateway({ store, sessions, adminTokenHash: hashToken('bca_x'.repeat(8)) })
    expect((await logout()).status).toBe(200)
    expect(calls).toEqual(['claim'])
    expect(await sessions.status('billing', 's1')).toMatchObject({ state: 'revoked' })
  })

  it('answers 503 ERR_STORE_UNAVAILABLE when a custom session store throws a plain Error', async () => {
    const sessions = { ...memoryStore(), revoke: () => Promise.reject(new Error('ECONNRESET')) }
    gateway = createGateway({ store, sessions, adminTokenHash: hashToken('bca_x'.repeat(8)) })
    const res = await logout()
    expect(res.status).toBe(503)
    expect(await res.json()).toMatchObject({ error: 'temporarily_unavailable' })
  })
})

describe("the logouts' audit records", () => {
  it('are stamped with the time of the logout, and written by close()', async () => {
    const at = Math.floor(Date.now() / 1000)
    gateway = createGateway({ store, adminTokenHash: hashToken('bca_x'.repeat(8)), now: () => at })
    expect((await logout()).status).toBe(200)
    await gateway.close()
    expect((await store.audit.list({ app: 'billing' })).map((r) => [r.outcome, r.at])).toEqual([['revoked', at]])
  })

  it('logs a record the store could not write as lost', async () => {
    const lines: { msg: string; app?: string; err?: { message: string } }[] = []
    const logger = pino({}, { write: (line: string) => lines.push(JSON.parse(line)) })
    gateway = createGateway({ store, adminTokenHash: hashToken('bca_x'.repeat(8)), logger })
    store.backend.append = () => Promise.reject(new Error('ECONNREFUSED'))
    expect((await logout()).status).toBe(200)
    await gateway.close()
    expect(lines.find((l) => l.msg === 'audit record lost')).toMatchObject({
      app: 'billing',
      err: { message: expect.stringContaining('ECONNREFUSED') },
    })
  })
})

describe('throttling failed logouts', () => {
  it('answers ERR_RATE_LIMITED with its status from the table and the limiter’s Retry-After', async () => {
    gateway = createGateway({ store, adminTokenHash: 'a'.repeat(64), failureLimits: { perAddress: 2, window: 60 } })
    const forged = () => logout('forged.token.value')
    expect((await forged()).status).toBe(400)
    expect((await forged()).status).toBe(400)
    const throttled = await forged()
    const limited = errorStatus(new errors.RateLimited(60))
    expect(limited.status).toBe(429)
    expect(throttled.status).toBe(limited.status)
    expect(throttled.headers.get('retry-after')).toBe('60')
    expect(await throttled.json()).toEqual({
      error: 'invalid_request',
      error_description: 'too many failed logout requests; retry after 60 s',
    })
    const counted = await gateway.metrics.registry.getSingleMetricAsString('backchannel_logout_requests_total')
    expect(counted).toMatch(/status="429",code="ERR_RATE_LIMITED"\} 1/)
    // A valid logout from the same address is still answered.
    expect((await logout()).status).toBe(200)
  })
})
