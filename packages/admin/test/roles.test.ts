/**
 * Who may call what: ONE table over every procedure of the router, each row the role the design
 * gives it (`admin`, or `owner`: the admin token or the API key of the application the input
 * names). Every procedure is called by the owner of `alpha` on `alpha` and on `beta`, by a key
 * rotated away, with no token, and by the admin. A procedure without a row, or whose declared role
 * (its meta) is not the row's, fails here.
 */
import { sessionIssuer } from '@backchannel/core'
import type { BackchannelStore } from '@backchannel/unstorage'
import { memoryStore } from '@backchannel/unstorage/memory'
import { TRPCError } from '@trpc/server'
import { describe, expect, it } from 'vitest'
import { type AdminDependencies, appRouter, createAdminContext, createCallerFactory, hashToken } from '../src/index.js'
import type { Role } from '../src/trpc.js'

const ADMIN = 'bca_roles-test-admin-token'
const ISSUER = 'https://id.example.com'
const TRANSMITTER = 'https://tx.example.com'
const RELAY = 'https://relay.example.com/logout'

/** The applications of every world: `alpha` is the owner's, `beta` another's; each has an OIDC twin. */
interface World {
  deps: AdminDependencies
  store: BackchannelStore
  /** The API key of `alpha`, of `beta`. */
  keys: Record<string, string>
  /** A relay delivery of each HMAC application (dead: retryable). */
  delivery: Record<string, string>
}

async function world(): Promise<World> {
  const t = 1_800_000_000
  const store = memoryStore({ now: () => t })
  const deps: AdminDependencies = {
    store,
    adminTokenHash: hashToken(ADMIN),
    now: () => t,
    discover: async (issuer) => ({
      issuer,
      jwksUri: `${issuer}/certs`,
      backchannelLogoutSupported: true,
      backchannelLogoutSessionSupported: true,
    }),
    discoverTransmitter: async (issuer) => ({
      issuer,
      jwksUri: `${issuer}/jwks`,
      configurationEndpoint: `${issuer}/streams`,
      verificationEndpoint: `${issuer}/verify`,
    }),
    transmitterFetch: async (url) =>
      String(url).endsWith('/verify')
        ? new Response(null, { status: 204 })
        : Response.json({ stream_id: 'st-1', events_delivered: [] }),
    checkStreamUrl: async () => {},
    checkRelayUrl: async () => {},
  }
  const api = caller(deps, ADMIN)
  const keys: Record<string, string> = {}
  const delivery: Record<string, string> = {}
  for (const name of ['alpha', 'beta']) {
    keys[name] = (await (await api).apps.create({ name, relays: [{ url: RELAY, mode: 'hmac' }] })).apiKey
    await (await api).apps.create({ name: `${name}-oidc`, issuer: ISSUER, clientId: name })
    await (await api).sessions.register({ app: name, sessionId: 's1', sub: 'alice' })
    await (await api).sessions.revoke({ app: name, sid: 'nobody' })
    await (await api).sessions.register({ app: name, sessionId: 's2', sub: 'bob' })
    await (await api).sessions.revoke({ app: name, sub: 'bob' })
    const [pending] = await store.outbox.list({ app: name })
    const taken = pending && (await store.outbox.take(pending.id, 30))
    if (!taken) throw new Error('no delivery')
    await store.outbox.settle({ ...taken, state: 'dead', attempts: 1, lastStatus: 500 })
    delivery[name] = taken.id
    await (await api).streams.create({ name: `${name}-stream`, issuer: TRANSMITTER, apps: [name], streamId: 'st-1' })
  }
  return { deps, store, keys, delivery }
}

async function caller(deps: AdminDependencies, token?: string) {
  const request = new Request('http://gw/trpc', { headers: token ? { authorization: `Bearer ${token}` } : {} })
  return createCallerFactory(appRouter)(await createAdminContext(deps, request))
}

/** Everything a call could change, as JSON: applications (with their hashes), sessions, deliveries, audit, keys, streams. */
async function snapshot({ store }: World): Promise<string> {
  const apps = await store.apps.list()
  return JSON.stringify({
    apps,
    sessions: await Promise.all(apps.map((a) => store.list(a.name, sessionIssuer(a), 'alice'))),
    outbox: await store.outbox.list({ limit: 500 }),
    audit: await store.audit.list({ limit: 500 }),
    keys: await store.keys.list(),
    streams: await Promise.all((await store.streams.list()).map(async (s) => [s, await store.streams.state(s.name)])),
  })
}

/** A procedure's row: the role the design gives it, and its input naming application `app` (`alpha` or `beta`). */
type Row = { role: Role; input: (app: string, w: World) => unknown }

const ROLES: Record<string, Row> = {
  'apps.create': { role: 'admin', input: (app) => ({ name: `${app}-new` }) },
  'apps.list': { role: 'admin', input: () => ({}) },
  'apps.get': { role: 'owner', input: (app) => ({ name: app }) },
  'apps.health': { role: 'owner', input: (app) => ({ name: app }) },
  'apps.update': { role: 'admin', input: (app) => ({ name: app, policy: { maxTokenAge: 120 } }) },
  'apps.delete': { role: 'admin', input: (app) => ({ name: app }) },
  'apps.rotateSecret': { role: 'owner', input: (app) => ({ name: app, graceSeconds: 60 }) },
  'apps.rotateRelaySecret': { role: 'admin', input: (app) => ({ name: app, url: RELAY }) },
  'apps.rotateApiKey': { role: 'owner', input: (app) => ({ name: app }) },
  'apps.rediscover': { role: 'admin', input: (app) => ({ name: `${app}-oidc` }) },
  'sessions.register': { role: 'owner', input: (app) => ({ app, sessionId: 's9', sub: 'alice' }) },
  'sessions.status': { role: 'owner', input: (app) => ({ app, sessionId: 's1' }) },
  'sessions.list': { role: 'owner', input: (app) => ({ app, sub: 'alice' }) },
  'sessions.end': { role: 'owner', input: (app) => ({ app, sessionId: 's1' }) },
  'sessions.revoke': { role: 'owner', input: (app) => ({ app, sub: 'alice' }) },
  'audit.list': { role: 'owner', input: (app) => ({ app }) },
  'relays.list': { role: 'owner', input: (app) => ({ app }) },
  'relays.retry': { role: 'owner', input: (app, w) => ({ id: w.delivery[app] }) },
  'relays.discard': { role: 'admin', input: (app, w) => ({ id: w.delivery[app] }) },
  'keys.list': { role: 'admin', input: () => undefined },
  'keys.rotate': { role: 'admin', input: () => ({}) },
  'streams.create': { role: 'admin', input: (app) => ({ name: `${app}-new`, issuer: TRANSMITTER, apps: [app] }) },
  'streams.list': { role: 'admin', input: () => undefined },
  'streams.get': { role: 'admin', input: (app) => ({ name: `${app}-stream` }) },
  'streams.connect': { role: 'admin', input: (app) => ({ name: `${app}-stream`, accessToken: 'tx' }) },
  'streams.verify': { role: 'admin', input: (app) => ({ name: `${app}-stream`, accessToken: 'tx' }) },
  'streams.delete': { role: 'admin', input: (app) => ({ name: `${app}-stream` }) },
  whoami: { role: 'any', input: () => undefined },
}

/** Calls `path` with `input` as the holder of `token`: its answer, or the TRPCError it failed with. */
async function call(w: World, token: string | undefined, path: string, input: unknown) {
  const api = (await caller(w.deps, token)) as unknown as Record<string, unknown>
  const procedure = path.split('.').reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], api)
  try {
    return { ok: true as const, value: await (procedure as (input: unknown) => Promise<unknown>)(input) }
  } catch (error) {
    if (!(error instanceof TRPCError)) throw error
    return { ok: false as const, error }
  }
}

const procedures = appRouter._def.procedures as unknown as Record<string, { _def: { meta?: { role?: Role } } }>
const paths = Object.keys(procedures).sort()

describe('roles', () => {
  it('every procedure of the router has a row, and declares in its meta the role of its row', () => {
    expect(paths.length).toBeGreaterThan(20)
    for (const path of paths) {
      expect(ROLES[path], `${path} has no row in this table: give it one (and a role)`).toBeDefined()
      expect(procedures[path]?._def.meta?.role, `${path} declares another role`).toBe(ROLES[path]?.role)
    }
    expect(Object.keys(ROLES).sort()).toEqual(paths)
  })

  it.each(paths)('%s: the owner of alpha on alpha and on beta, a rotated key, no token, the admin', async (path) => {
    const row = ROLES[path] as Row
    // The owner of alpha, on alpha: allowed for owner and any, refused (unchanged) for admin.
    let w = await world()
    let before = await snapshot(w)
    const own = await call(w, w.keys.alpha, path, row.input('alpha', w))
    if (row.role === 'admin') {
      expect(own.ok ? 'allowed' : own.error.code, path).toBe('FORBIDDEN')
      expect(await snapshot(w)).toBe(before)
    } else {
      expect(own.ok ? 'allowed' : own.error.message, path).toBe('allowed')
    }

    // The owner of alpha, on beta: refused, and beta (and everything else) unchanged.
    w = await world()
    before = await snapshot(w)
    const other = await call(w, w.keys.alpha, path, row.input('beta', w))
    if (row.role === 'any') expect(other.ok).toBe(true)
    else {
      expect(other.ok ? 'allowed' : other.error.code, path).toBe('FORBIDDEN')
      expect(await snapshot(w)).toBe(before)
    }

    // A key rotated away, and no token: unauthorized, nothing changed.
    w = await world()
    const old = w.keys.alpha
    await (await caller(w.deps, ADMIN)).apps.rotateApiKey({ name: 'alpha' })
    before = await snapshot(w)
    for (const token of [old, undefined]) {
      const refused = await call(w, token, path, row.input('alpha', w))
      expect(refused.ok ? 'allowed' : refused.error.code, path).toBe('UNAUTHORIZED')
    }
    expect(await snapshot(w)).toBe(before)

    // The admin: allowed on either application.
    w = await world()
    const admin = await call(w, ADMIN, path, row.input('beta', w))
    expect(admin.ok ? 'allowed' : admin.error.message, path).toBe('allowed')
  })

  it('an owner names its application in audit.list and relays.list, and retries only its own deliveries', async () => {
    const w = await world()
    const owner = await caller(w.deps, w.keys.alpha)
    for (const refused of [owner.audit.list(), owner.audit.list({}), owner.relays.list({ state: 'dead' })]) {
      await expect(refused).rejects.toMatchObject({ code: 'FORBIDDEN', message: /must name its own application/ })
    }
    const before = await snapshot(w)
    await expect(owner.relays.retry({ app: 'beta', state: 'dead' })).rejects.toMatchObject({ code: 'FORBIDDEN' })
    // An id no delivery has: refused as another application's is (an owner learns nothing of ids).
    await expect(owner.relays.retry({ id: w.delivery.beta?.replace(/.$/, '0') ?? '' })).rejects.toMatchObject({
      code: 'FORBIDDEN',
    })
    expect(await snapshot(w)).toBe(before)
    expect(await owner.relays.retry({ app: 'alpha', state: 'dead' })).toEqual({ retried: 1 })
    const [record] = await w.store.audit.list({ app: 'alpha', limit: 1 })
    expect(record).toMatchObject({ action: 'relays.retry', actor: 'owner:alpha', source: 'admin' })
  })

  it('a replaced API key never works again: two rotations at once, a delete and a new app of that name', async () => {
    const w = await world()
    const old = w.keys.alpha ?? ''
    const owner = await caller(w.deps, old)
    // Both rotations read the same record; each removes only the key it read from the index.
    const [a, b] = await Promise.all([
      owner.apps.rotateApiKey({ name: 'alpha' }),
      owner.apps.rotateApiKey({ name: 'alpha' }),
    ])
    const current = (await w.store.apps.get('alpha'))?.apiKeyHash
    const keys = [old, a.apiKey, b.apiKey]
    const working = []
    for (const key of keys) {
      const who = await (await caller(w.deps, key)).whoami().catch(() => undefined)
      if (who) working.push(hashToken(key))
    }
    expect(working).toEqual([current])
    // The operator takes the application back; a new one gets its name: no earlier key reaches it.
    await (await caller(w.deps, ADMIN)).apps.delete({ name: 'alpha' })
    await (await caller(w.deps, ADMIN)).apps.create({ name: 'alpha' })
    for (const key of keys) {
      await expect((await caller(w.deps, key)).whoami()).rejects.toMatchObject({ code: 'UNAUTHORIZED' })
    }
  })

  it("an owner's call is recorded under the application it was checked against, app before name", async () => {
    const w = await world()
    const owner = await caller(w.deps, w.keys.alpha)
    const input = { app: 'alpha', name: 'beta', sub: 'alice' } as { app: string; sub: string }
    await owner.sessions.revoke(input)
    const [record] = await w.store.audit.list({ app: 'alpha', limit: 1 })
    expect(record).toMatchObject({ action: 'sessions.revoke', actor: 'owner:alpha' })
    expect(
      (await w.store.audit.list({ app: 'beta' })).some(
        (r) => r.action === 'sessions.revoke' && r.actor === 'owner:alpha',
      ),
    ).toBe(false)
  })
})
