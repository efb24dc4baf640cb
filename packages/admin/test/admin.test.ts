/** The admin and session API through createCaller: every procedure, every permission. */
import { errors } from '@backchannel/core'
import { memoryStore } from '@backchannel/unstorage/memory'
import { TRPCError } from '@trpc/server'
import { beforeEach, describe, expect, it } from 'vitest'
import { type AdminDependencies, appRouter, createAdminContext, createCallerFactory, hashToken } from '../src/index.js'

const ADMIN = 'bca_test-admin-token'
const ISSUER = 'https://id.example.com/realms/main'
let deps: AdminDependencies
let changed: string[]
let forgotten: string[]
let t: number

beforeEach(() => {
  t = 1_800_000_000
  changed = []
  forgotten = []
  deps = {
    store: memoryStore({ now: () => t }),
    adminTokenHash: hashToken(ADMIN),
    now: () => t,
    discover: async (issuer, clientId) => {
      if (issuer !== ISSUER) throw new errors.IssuerMismatch(`the provider states another issuer (client ${clientId})`)
      return {
        issuer,
        jwksUri: `${issuer}/certs`,
        backchannelLogoutSupported: true,
        backchannelLogoutSessionSupported: true,
      }
    },
    onAppChanged: (name) => changed.push(name),
    forgetKeys: (jwksUri) => forgotten.push(jwksUri),
  }
})

const caller = async (token?: string) =>
  createCallerFactory(appRouter)(
    await createAdminContext(
      deps,
      new Request('http://gw/trpc', { headers: token ? { authorization: `Bearer ${token}` } : {} }),
    ),
  )
const admin = () => caller(ADMIN)

async function rejects(call: Promise<unknown>, code: TRPCError['code'], message?: RegExp) {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(TRPCError)
  expect((error as TRPCError).code).toBe(code)
  if (message) expect((error as TRPCError).message).toMatch(message)
  return error as TRPCError
}

describe('apps.*', () => {
  it('creates an HMAC app: the secret and API key are shown once, never again', async () => {
    const api = await admin()
    const created = await api.apps.create({ name: 'billing' })
    expect(created.secret).toMatch(/^bcs_[\w-]{43}$/)
    expect(created.apiKey).toMatch(/^bck_[\w-]{43}$/)
    expect(created.app).toMatchObject({ name: 'billing', kind: 'hmac', algorithms: ['HS256', 'HS384', 'HS512'] })
    const shown = JSON.stringify([await api.apps.get({ name: 'billing' }), await api.apps.list()])
    expect(shown).not.toContain(created.secret)
    expect(shown).not.toContain(created.apiKey)
    expect(shown).not.toContain('apiKeyHash')
    expect(changed).toEqual(['billing'])
  })

  it('creates an OIDC app by issuer: discovery runs now', async () => {
    const api = await admin()
    const { app, secret } = await api.apps.create({
      name: 'wiki',
      issuer: ISSUER,
      clientId: 'wiki',
      algorithms: ['ES256'],
    })
    expect(secret).toBeUndefined()
    expect(app).toMatchObject({
      kind: 'oidc',
      issuer: ISSUER,
      clientId: 'wiki',
      jwksUri: `${ISSUER}/certs`,
      algorithms: ['ES256'],
    })
  })

  it('refuses an issuer that fails discovery, with the reason and its code', async () => {
    const error = await rejects(
      (await admin()).apps.create({ name: 'wiki', issuer: 'https://evil.example', clientId: 'w' }),
      'BAD_REQUEST',
      /states another issuer/,
    )
    expect(error.cause).toMatchObject({ code: 'ERR_ISSUER_MISMATCH' })
    expect(await deps.store.apps.get('wiki')).toBeUndefined()
  })

  it('names the field of a bad input', async () => {
    const api = await admin()
    await rejects(api.apps.create({ name: 'Not A Slug' }), 'BAD_REQUEST')
    await rejects(api.apps.create({ name: 'wiki', issuer: ISSUER }), 'BAD_REQUEST', /clientId/)
    await rejects(api.apps.create({ name: 'x', algorithms: ['RS256'] }), 'BAD_REQUEST', /algorithms/)
    await rejects(
      api.apps.create({ name: 'y', issuer: ISSUER, clientId: 'c', algorithms: ['HS256'] }),
      'BAD_REQUEST',
      /algorithms/,
    )
    await rejects(api.apps.create({ name: 'z', policy: { maxTokenAge: -1 } }), 'BAD_REQUEST')
  })

  it('refuses a taken name with CONFLICT', async () => {
    const api = await admin()
    await api.apps.create({ name: 'billing' })
    await rejects(api.apps.create({ name: 'billing' }), 'CONFLICT')
  })

  it('updates policy and algorithms, and reports NOT_FOUND for a missing app', async () => {
    const api = await admin()
    await api.apps.create({ name: 'wiki', issuer: ISSUER, clientId: 'wiki' })
    t += 10
    const app = await api.apps.update({ name: 'wiki', policy: { allowMissingExp: true, logoutScope: 'user' } })
    expect(app).toMatchObject({ policy: { allowMissingExp: true, logoutScope: 'user' }, updatedAt: t })
    await rejects(api.apps.update({ name: 'wiki', policy: { audience: 'x' } }), 'BAD_REQUEST', /HMAC/)
    await rejects(api.apps.get({ name: 'nope' }), 'NOT_FOUND')
  })

  it('rotates the secret: the previous one verifies until the grace ends', async () => {
    const api = await admin()
    const { secret: first } = await api.apps.create({ name: 'billing' })
    const { secret: second } = await api.apps.rotateSecret({ name: 'billing', graceSeconds: 600 })
    expect(second).not.toBe(first)
    const stored = await deps.store.apps.get('billing')
    expect(stored?.kind === 'hmac' && stored.secrets.map((s) => [new TextDecoder().decode(s.key), s.notAfter])).toEqual(
      [
        [second, undefined],
        [first, t + 600],
      ],
    )
    expect(await api.apps.get({ name: 'billing' })).toMatchObject({ previousSecretValidUntil: t + 600 })
    await rejects(
      api.apps
        .create({ name: 'wiki', issuer: ISSUER, clientId: 'c' })
        .then(() => api.apps.rotateSecret({ name: 'wiki' })),
      'BAD_REQUEST',
    )
  })

  it('rotates the API key: the old key stops working at once', async () => {
    const api = await admin()
    const { apiKey } = await api.apps.create({ name: 'billing' })
    const { apiKey: fresh } = await api.apps.rotateApiKey({ name: 'billing' })
    await rejects((await caller(apiKey)).sessions.status({ app: 'billing', sessionId: 's' }), 'UNAUTHORIZED')
    expect(await (await caller(fresh)).sessions.status({ app: 'billing', sessionId: 's' })).toEqual({
      state: 'unknown',
    })
  })

  it('rediscovers an OIDC app and deletes an app with its sessions', async () => {
    const api = await admin()
    const { apiKey } = await api.apps.create({ name: 'wiki', issuer: ISSUER, clientId: 'wiki' })
    await (await caller(apiKey)).apps.rotateApiKey({ name: 'wiki' })
    expect(forgotten).toEqual([]) // the key set is shared: an owner's change keeps it
    expect(await api.apps.rediscover({ name: 'wiki' })).toMatchObject({ jwksUri: `${ISSUER}/certs` })
    expect(forgotten).toEqual([`${ISSUER}/certs`])
    await api.sessions.register({ app: 'wiki', sessionId: 's1', sub: 'u' })
    expect(await api.apps.delete({ name: 'wiki' })).toEqual({ deleted: true })
    await rejects(api.apps.delete({ name: 'wiki' }), 'NOT_FOUND')
    expect(await deps.store.status('wiki', 's1')).toEqual({ state: 'unknown' })
    expect(changed).toEqual(['wiki', 'wiki', 'wiki', 'wiki'])
    expect(forgotten).toEqual([`${ISSUER}/certs`, `${ISSUER}/certs`])
  })
})

describe('sessions.*', () => {
  it('registers, reports, lists, ends and revokes sessions under the app issuer', async () => {
    const api = await admin()
    await api.apps.create({ name: 'wiki', issuer: ISSUER, clientId: 'wiki' })
    const record = await api.sessions.register({
      app: 'wiki',
      sessionId: 's1',
      sub: 'alice',
      sid: 'x',
      authTime: t - 5,
    })
    expect(record).toMatchObject({ iss: ISSUER, sessionId: 's1', sub: 'alice', sid: 'x' })
    await api.sessions.register({ app: 'wiki', sessionId: 's2', sub: 'alice' })
    await api.sessions.register({ app: 'wiki', sessionId: 's3', sub: 'alice' })
    expect((await api.sessions.list({ app: 'wiki', sub: 'alice' })).map((s) => s.sessionId)).toEqual(['s1', 's2', 's3'])
    expect(await api.sessions.end({ app: 'wiki', sessionId: 's3' })).toEqual({ ended: true })
    expect(await api.sessions.revoke({ app: 'wiki', sub: 'alice' })).toEqual({ revoked: 2 })
    expect(await api.sessions.status({ app: 'wiki', sessionId: 's1' })).toEqual({ state: 'revoked', revokedAt: t })
    await rejects(api.sessions.revoke({ app: 'wiki' }), 'BAD_REQUEST', /sub\/sid/)
    await rejects(api.sessions.status({ app: 'nope', sessionId: 's' }), 'NOT_FOUND')
  })

  it('records admin revocations in the audit log, with only a hash of the sub', async () => {
    const api = await admin()
    await api.apps.create({ name: 'billing' })
    await api.sessions.register({ app: 'billing', sessionId: 's1', sub: 'alice' })
    await api.sessions.revoke({ app: 'billing', sub: 'alice' })
    const [record] = await api.audit.list({ app: 'billing' })
    expect(record).toMatchObject({ app: 'billing', source: 'admin', outcome: 'revoked', revoked: 1, iss: '' })
    expect(JSON.stringify(record)).not.toContain('alice')
  })

  it('shows times as whole seconds, and no empty iss on the sessions of an HMAC app', async () => {
    t = 1_800_000_000.789 // the gateway's clock has fractions
    const api = await admin()
    await api.apps.create({ name: 'billing' })
    const record = await api.sessions.register({ app: 'billing', sessionId: 's1', sub: 'alice' })
    expect(record).toEqual({
      app: 'billing',
      sessionId: 's1',
      sub: 'alice',
      authTime: 1_800_000_000,
      createdAt: 1_800_000_000,
    })
    expect(await api.sessions.list({ app: 'billing', sub: 'alice' })).toEqual([record])
    await api.sessions.revoke({ app: 'billing', sub: 'alice' })
    expect(await api.sessions.status({ app: 'billing', sessionId: 's1' })).toEqual({
      state: 'revoked',
      revokedAt: 1_800_000_000,
    })
    const app = await api.apps.get({ name: 'billing' })
    expect([app.createdAt, app.updatedAt]).toEqual([1_800_000_000, 1_800_000_000])
    // The revocation and the app's creation, both admin actions.
    expect((await api.audit.list({ app: 'billing' })).map((r) => r.at)).toEqual([1_800_000_000, 1_800_000_000])
  })

  it('answers SERVICE_UNAVAILABLE when the store is down', async () => {
    const api = await admin()
    await api.apps.create({ name: 'billing' })
    deps.store.status = () => Promise.reject(new errors.StoreUnavailable('the store failed in status()'))
    const error = await rejects(api.sessions.status({ app: 'billing', sessionId: 's' }), 'SERVICE_UNAVAILABLE')
    expect(error.cause).toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' })
  })
})

describe('who may call what', () => {
  it('refuses every procedure without a token, or with a wrong one', async () => {
    for (const token of [undefined, 'bca_wrong']) {
      const api = await caller(token)
      await rejects(api.apps.list(), 'UNAUTHORIZED')
      await rejects(api.apps.create({ name: 'x' }), 'UNAUTHORIZED')
      await rejects(api.sessions.status({ app: 'x', sessionId: 's' }), 'UNAUTHORIZED')
      await rejects(api.audit.list(), 'UNAUTHORIZED')
    }
  })

  it("an app's API key reaches its own sessions only", async () => {
    const api = await admin()
    const { apiKey } = await api.apps.create({ name: 'billing' })
    await api.apps.create({ name: 'wiki', issuer: ISSUER, clientId: 'wiki' })
    const app = await caller(apiKey)
    await app.sessions.register({ app: 'billing', sessionId: 's1', sub: 'u' })
    expect(await app.sessions.status({ app: 'billing', sessionId: 's1' })).toEqual({ state: 'active' })
    await rejects(app.sessions.status({ app: 'wiki', sessionId: 's1' }), 'FORBIDDEN')
    await rejects(app.sessions.revoke({ app: 'nonexistent', sub: 'u' }), 'FORBIDDEN')
    await rejects(app.apps.list(), 'FORBIDDEN')
    await rejects(app.apps.rotateSecret({ name: 'wiki' }), 'FORBIDDEN')
    await rejects(app.audit.list(), 'FORBIDDEN')
  })
})

describe('whoami and audit paging', () => {
  it('whoami names the role of the token: admin, or owner with its app', async () => {
    const api = await admin()
    expect(await api.whoami()).toEqual({ role: 'admin' })
    const { apiKey } = await api.apps.create({ name: 'billing' })
    expect(await (await caller(apiKey)).whoami()).toEqual({ role: 'owner', app: 'billing' })
    await rejects((await caller()).whoami(), 'UNAUTHORIZED')
    await rejects((await caller('bca_wrong')).whoami(), 'UNAUTHORIZED')
  })

  it('audit.list takes as before only the id of a record', async () => {
    const api = await admin()
    await api.apps.create({ name: 'billing' })
    await api.sessions.revoke({ app: 'billing', sub: 'a' })
    await api.sessions.revoke({ app: 'billing', sub: 'b' })
    const [newest, ...older] = await api.audit.list({ app: 'billing' })
    expect(older.map((r) => r.action)).toEqual(['sessions.revoke', 'apps.create'])
    expect(await api.audit.list({ app: 'billing', before: newest?.id })).toEqual(older)
    await rejects(api.audit.list({ before: 'yesterday' }), 'BAD_REQUEST', /before[\s\S]*of an audit record/)
  })
})
