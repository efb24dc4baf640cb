/**
 * The reads the admin console is built on, through createCaller: `apps.health` and the filters of
 * `audit.list` (source, outcome, time), and `errorMessage`, the API's wording of a refusal.
 */
import { memoryStore } from '@backchannel/unstorage/memory'
import { TRPCError } from '@trpc/server'
import { beforeEach, describe, expect, it } from 'vitest'
import {
  type AdminDependencies,
  appRouter,
  createAdminContext,
  createCallerFactory,
  errorMessage,
  hashToken,
} from '../src/index.js'

const ADMIN = 'bca_test-admin-token'
const ISSUER = 'https://id.example.com'
let deps: AdminDependencies
let t: number
let fetched: Map<string, number>

beforeEach(() => {
  t = 1_800_000_000
  fetched = new Map()
  deps = {
    store: memoryStore({ now: () => t }),
    adminTokenHash: hashToken(ADMIN),
    now: () => t,
    discover: async (issuer) => ({
      issuer,
      jwksUri: `${issuer}/jwks`,
      backchannelLogoutSupported: true,
      backchannelLogoutSessionSupported: true,
    }),
    keysFetchedAt: (jwksUri) => fetched.get(jwksUri),
  }
})

const admin = async () =>
  createCallerFactory(appRouter)(
    await createAdminContext(deps, new Request('http://gw/trpc', { headers: { authorization: `Bearer ${ADMIN}` } })),
  )

describe('apps.health', () => {
  it('gives the last logout, the last refusal and its rule, when keys were fetched, and the relay backlog', async () => {
    const api = await admin()
    await api.apps.create({ name: 'wiki', issuer: ISSUER, clientId: 'wiki' })
    expect(await api.apps.health({ name: 'wiki' })).toEqual({ relayBacklog: { pending: 0, dead: 0, capped: false } })

    const audit = deps.store.audit
    await audit.record({ app: 'wiki', source: 'backchannel', outcome: 'revoked', revoked: 2, at: t - 30 })
    await audit.record({
      app: 'wiki',
      source: 'backchannel',
      outcome: 'rejected',
      code: 'ERR_LOGOUT_TOKEN_EXPIRED',
      at: t - 20,
    })
    // An admin action is neither a logout nor a refusal.
    await audit.record({ app: 'wiki', source: 'admin', action: 'sessions.revoke', outcome: 'revoked', at: t - 10 })
    fetched.set(`${ISSUER}/jwks`, t - 5.5)

    expect(await api.apps.health({ name: 'wiki' })).toEqual({
      lastLogout: { at: t - 30, source: 'backchannel', revoked: 2 },
      lastRefusal: { at: t - 20, source: 'backchannel', code: 'ERR_LOGOUT_TOKEN_EXPIRED' },
      keysFetchedAt: t - 6,
      relayBacklog: { pending: 0, dead: 0, capped: false },
    })
  })

  it('counts pending and dead relay deliveries', async () => {
    const api = await admin()
    deps.checkRelayUrl = async () => {}
    await api.apps.create({ name: 'billing', relays: [{ url: 'https://a.example/bcl', mode: 'hmac' }] })
    await api.sessions.revoke({ app: 'billing', sub: 'alice' })
    await api.sessions.revoke({ app: 'billing', sub: 'bob' })
    const [first] = await deps.store.outbox.list({ app: 'billing' })
    const taken = first && (await deps.store.outbox.take(first.id, 30))
    if (!taken) throw new Error('no delivery to take')
    await deps.store.outbox.settle({ ...taken, state: 'dead', attempts: 1, lastStatus: 400 })
    expect((await api.apps.health({ name: 'billing' })).relayBacklog).toEqual({ pending: 1, dead: 1, capped: false })
  })

  it("is for the admin token and the application's owner, and says when there is no such application", async () => {
    const api = await admin()
    const { apiKey } = await api.apps.create({ name: 'billing' })
    const owner = createCallerFactory(appRouter)(
      await createAdminContext(deps, new Request('http://gw/trpc', { headers: { authorization: `Bearer ${apiKey}` } })),
    )
    expect(await owner.apps.health({ name: 'billing' })).toMatchObject({ relayBacklog: { pending: 0, dead: 0 } })
    await api.apps.create({ name: 'wiki' })
    await expect(owner.apps.health({ name: 'wiki' })).rejects.toMatchObject({ code: 'FORBIDDEN' })
    await expect(api.apps.health({ name: 'nope' })).rejects.toMatchObject({ code: 'NOT_FOUND' })
  })
})

describe('audit.list filters', () => {
  beforeEach(async () => {
    const audit = deps.store.audit
    for (let i = 0; i < 30; i++) {
      await audit.record({
        app: 'wiki',
        source: i % 3 === 0 ? 'admin' : 'backchannel',
        outcome: i % 2 === 0 ? 'revoked' : 'rejected',
        at: t - 300 + i * 10,
      })
    }
  })

  it('keeps the records of one source and outcome, newest first', async () => {
    const api = await admin()
    const found = await api.audit.list({ app: 'wiki', source: 'admin', outcome: 'revoked' })
    // i in 0, 6, 12, 18, 24: both a multiple of 3 and even.
    expect(found.map((r) => r.at)).toEqual([24, 18, 12, 6, 0].map((i) => t - 300 + i * 10))
    expect(found.every((r) => r.source === 'admin' && r.outcome === 'revoked')).toBe(true)
  })

  it('keeps the records between since and until, both included, up to limit', async () => {
    const api = await admin()
    const found = await api.audit.list({ since: t - 100, until: t - 60 })
    expect(found.map((r) => r.at)).toEqual([t - 60, t - 70, t - 80, t - 90, t - 100])
    expect(await api.audit.list({ since: t - 100, limit: 2 })).toHaveLength(2)
  })

  it('refuses an unknown source or a time that is no number, naming the field', async () => {
    const api = await admin()
    const error = await api.audit.list({ source: 'nope' as 'admin' }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(TRPCError)
    expect(errorMessage(error as TRPCError)).toMatch(/^source: /)
    const nan = await api.audit.list({ since: Number.NaN }).catch((e: unknown) => e)
    expect(errorMessage(nan as TRPCError)).toMatch(/^since: /)
  })
})
