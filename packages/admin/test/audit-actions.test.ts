/** Admin actions as audit records: one per mutation that took effect, saying who and what, never a secret. */
import { memoryStore } from '@backchannel/unstorage/memory'
import { TRPCError } from '@trpc/server'
import { beforeEach, describe, expect, it } from 'vitest'
import { type AdminDependencies, appRouter, createAdminContext, createCallerFactory, hashToken } from '../src/index.js'

const ADMIN = 'bca_audit-test-admin-token'
const ISSUER = 'https://id.example.com/realms/main'
let deps: AdminDependencies

beforeEach(() => {
  deps = {
    store: memoryStore(),
    adminTokenHash: hashToken(ADMIN),
    discover: async (issuer) => ({
      issuer,
      jwksUri: `${issuer}/certs`,
      backchannelLogoutSupported: true,
      backchannelLogoutSessionSupported: true,
    }),
  }
})

const caller = async (token: string) =>
  createCallerFactory(appRouter)(
    await createAdminContext(deps, new Request('http://gw/trpc', { headers: { authorization: `Bearer ${token}` } })),
  )
const records = () => deps.store.audit.list({ limit: 500 })

describe('admin actions in the audit log', () => {
  it('leaves exactly one record per mutation, naming the actor, the action and the target', async () => {
    const api = await caller(ADMIN)
    const steps: [action: string, app: string, call: () => Promise<unknown>][] = [
      ['apps.create', 'billing', () => api.apps.create({ name: 'billing' })],
      ['apps.create', 'wiki', () => api.apps.create({ name: 'wiki', issuer: ISSUER, clientId: 'wiki' })],
      [
        'apps.update',
        'wiki',
        () => api.apps.update({ name: 'wiki', clientId: 'wiki-2', policy: { maxTokenAge: 300 } }),
      ],
      ['apps.rotateSecret', 'billing', () => api.apps.rotateSecret({ name: 'billing', graceSeconds: 60 })],
      ['apps.rotateApiKey', 'billing', () => api.apps.rotateApiKey({ name: 'billing' })],
      ['apps.rediscover', 'wiki', () => api.apps.rediscover({ name: 'wiki' })],
      ['sessions.revoke', 'billing', () => api.sessions.revoke({ app: 'billing', sub: 'alice' })],
      ['apps.delete', 'wiki', () => api.apps.delete({ name: 'wiki' })],
    ]
    for (const [action, app, call] of steps) {
      const before = (await records()).length
      await call()
      const after = await records()
      expect(after.length, action).toBe(before + 1)
      expect(after[0], action).toMatchObject({ app, source: 'admin', action, actor: 'admin' })
    }
    const [deleted, revoked, , , , updated] = await records()
    expect(deleted).toMatchObject({ outcome: 'applied' })
    expect(revoked).toMatchObject({ outcome: 'revoked', revoked: 0, iss: '' })
    expect(updated).toMatchObject({ outcome: 'applied', fields: ['clientId', 'policy.maxTokenAge'] })
  })

  it('records a gateway-wide action (keys.rotate) without an app', async () => {
    const api = await caller(ADMIN)
    await api.keys.rotate({ graceSeconds: 0 })
    const [rotated, ...rest] = await records()
    expect(rest).toEqual([])
    expect(rotated).toMatchObject({ source: 'admin', action: 'keys.rotate', actor: 'admin', outcome: 'applied' })
    expect(rotated).not.toHaveProperty('app')
  })

  it('records no reads, no session registrations and no refused or failed calls', async () => {
    const api = await caller(ADMIN)
    const { apiKey } = await api.apps.create({ name: 'billing' })
    await api.apps.create({ name: 'wiki' })
    const owner = await caller(apiKey)
    await owner.sessions.register({ app: 'billing', sessionId: 's1', sub: 'alice' })
    await owner.sessions.end({ app: 'billing', sessionId: 's1' })
    await api.apps.list()
    await api.audit.list()
    const refused = [
      owner.apps.rotateSecret({ name: 'wiki' }),
      owner.apps.delete({ name: 'billing' }),
      owner.sessions.revoke({ app: 'wiki', sub: 'alice' }),
      api.apps.delete({ name: 'nope' }),
      api.apps.create({ name: 'billing' }),
      api.apps.rediscover({ name: 'billing' }),
    ]
    for (const call of refused) await expect(call).rejects.toBeInstanceOf(TRPCError)
    expect((await records()).map((r) => r.action)).toEqual(['apps.create', 'apps.create'])
  })

  it("shows an owner's rotations as that owner's", async () => {
    const api = await caller(ADMIN)
    const { apiKey } = await api.apps.create({ name: 'billing' })
    const owner = await caller(apiKey)
    await owner.apps.rotateSecret({ name: 'billing' })
    await owner.apps.rotateApiKey({ name: 'billing' })
    const [key, secret] = await records()
    expect(key).toMatchObject({ app: 'billing', action: 'apps.rotateApiKey', actor: 'owner:billing' })
    expect(secret).toMatchObject({ app: 'billing', action: 'apps.rotateSecret', actor: 'owner:billing' })
  })

  it('never holds a secret, an API key or the admin token', async () => {
    const api = await caller(ADMIN)
    const created = await api.apps.create({ name: 'billing' })
    const owner = await caller(created.apiKey)
    const shown = [
      ADMIN,
      created.secret,
      created.apiKey,
      (await owner.apps.rotateSecret({ name: 'billing' })).secret,
      (await api.apps.rotateSecret({ name: 'billing' })).secret,
      (await owner.apps.rotateApiKey({ name: 'billing' })).apiKey,
      (await api.apps.rotateApiKey({ name: 'billing' })).apiKey,
    ]
    await api.sessions.revoke({ app: 'billing', sub: 'alice@example.com' })
    const serialized = JSON.stringify(await records())
    expect((await records()).length).toBe(6)
    for (const value of [...shown, 'alice@example.com']) {
      expect(value).toBeTruthy()
      expect(serialized).not.toContain(value)
      expect(serialized).not.toContain(hashToken(value as string))
    }
  })

  it('answers an action whose record could not be written, and says so', async () => {
    const lost: unknown[] = []
    deps.onAuditLost = (error, record) => lost.push({ error, record })
    const api = await caller(ADMIN)
    deps.store.audit.record = () => Promise.reject(new Error('disk full'))
    const { secret } = await api.apps.create({ name: 'billing' })
    expect(secret).toMatch(/^bcs_/)
    expect(lost).toEqual([
      { error: new Error('disk full'), record: expect.objectContaining({ action: 'apps.create', app: 'billing' }) },
    ])
  })
})
