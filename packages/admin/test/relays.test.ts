/** Relays on applications and `relays.*`, through createCaller over a real memory store. */
import { memoryStore } from '@backchannel/unstorage/memory'
import { TRPCError } from '@trpc/server'
import { beforeEach, describe, expect, it } from 'vitest'
import { type AdminDependencies, appRouter, createAdminContext, createCallerFactory, hashToken } from '../src/index.js'

const ADMIN = 'bca_test-admin-token'
// Public IPv4 literals: checked by the address rule without any lookup or connection.
const A = 'https://198.51.101.7/bcl'
const B = 'https://198.51.101.8/bcl'
const C = 'https://198.51.101.9/bcl'
let deps: AdminDependencies
let t: number

beforeEach(() => {
  t = 1_800_000_000
  deps = {
    store: memoryStore({ now: () => t }),
    adminTokenHash: hashToken(ADMIN),
    now: () => t,
    discover: () => Promise.reject(new Error('no discovery in these tests')),
  }
})

const caller = async (token: string) =>
  createCallerFactory(appRouter)(
    await createAdminContext(deps, new Request('http://gw/trpc', { headers: { authorization: `Bearer ${token}` } })),
  )

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

describe('relays on applications', () => {
  it('issues a secret once for each hmac relay, keeps it sealed, and never shows it again', async () => {
    const api = await caller(ADMIN)
    const created = await api.apps.create({
      name: 'billing',
      relays: [
        { url: A, mode: 'forward' },
        { url: B, mode: 'hmac' },
        { url: C, mode: 'sign', clientId: 'c' },
      ],
    })
    expect(Object.keys(created.relaySecrets ?? {})).toEqual([B])
    expect(created.relaySecrets?.[B]).toMatch(/^bcs_[\w-]{43}$/)
    expect(created.app.relays).toEqual([
      { url: A, mode: 'forward' },
      { url: B, mode: 'hmac' },
      { url: C, mode: 'sign', clientId: 'c' },
    ])
    expect(JSON.stringify(await api.apps.list())).not.toContain(created.relaySecrets?.[B])
    expect(JSON.stringify(await api.apps.get({ name: 'billing' }))).not.toContain('bcs_')
    expect((await deps.store.apps.get('billing'))?.relaySecrets).toEqual(created.relaySecrets)

    // An update keeps the secret of a relay that stays; a new hmac relay gets its own, once.
    const updated = await api.apps.update({
      name: 'billing',
      relays: [
        { url: B, mode: 'hmac' },
        { url: A, mode: 'hmac' },
      ],
    })
    expect(Object.keys(updated.relaySecrets ?? {})).toEqual([A])
    const stored = await deps.store.apps.get('billing')
    expect(stored?.relaySecrets?.[B]).toBe(created.relaySecrets?.[B])
    expect(stored?.relaySecrets?.[A]).toBe(updated.relaySecrets?.[A])

    const { secret } = await api.apps.rotateRelaySecret({ name: 'billing', url: B })
    expect(secret).not.toBe(created.relaySecrets?.[B])
    expect((await deps.store.apps.get('billing'))?.relaySecrets?.[B]).toBe(secret)
    await rejects(api.apps.rotateRelaySecret({ name: 'billing', url: C }), 'BAD_REQUEST', /no hmac relay/)

    await api.apps.update({ name: 'billing', relays: [] })
    const cleared = await deps.store.apps.get('billing')
    expect(cleared?.relays).toBeUndefined()
    expect(cleared?.relaySecrets).toBeUndefined()
  })

  it('refuses bad relays, naming the rule, and stores nothing', async () => {
    const api = await caller(ADMIN)
    await rejects(api.apps.create({ name: 'x', relays: [{ url: A, mode: 'sign' }] }), 'BAD_REQUEST', /clientId/)
    await rejects(
      api.apps.create({
        name: 'x',
        relays: Array.from({ length: 21 }, (_, i) => ({ url: `${A}${i}`, mode: 'forward' as const })),
      }),
      'BAD_REQUEST',
      /relays/,
    )
    await rejects(
      api.apps.create({
        name: 'x',
        relays: [
          { url: A, mode: 'forward' },
          { url: A, mode: 'hmac' },
        ],
      }),
      'BAD_REQUEST',
      /once/,
    )
    const insecure = await rejects(
      api.apps.create({ name: 'x', relays: [{ url: 'http://198.51.101.7/bcl', mode: 'forward' }] }),
      'BAD_REQUEST',
      /https/,
    )
    expect(insecure.cause).toMatchObject({ code: 'ERR_ISSUER_INSECURE' })
    // A private address, refused by the address rule from the literal itself: nothing connects.
    const forbidden = await rejects(
      api.apps.create({ name: 'x', relays: [{ url: 'https://10.1.2.3/bcl', mode: 'forward' }] }),
      'BAD_REQUEST',
      /relay https:\/\/10\.1\.2\.3\/bcl is not at a public address/,
    )
    expect(forbidden.cause).toMatchObject({ code: 'ERR_ISSUER_ADDRESS_FORBIDDEN' })
    // Credentials in the URL would be shown in relays.list, audit records and logs.
    await rejects(
      api.apps.create({ name: 'x', relays: [{ url: 'https://user:secret@relay.example.test/bcl', mode: 'forward' }] }),
      'BAD_REQUEST',
      /no user or password in a relay URL/,
    )
    expect(await deps.store.apps.get('x')).toBeUndefined()

    await api.apps.create({ name: 'y' })
    await rejects(
      api.apps.update({ name: 'y', relays: [{ url: 'https://[::1]/bcl', mode: 'forward' }] }),
      'BAD_REQUEST',
    )
    expect((await deps.store.apps.get('y'))?.relays).toBeUndefined()
  })
})

describe('relays.*', () => {
  it('relays an admin revocation to sign and hmac relays only, and lists, retries and discards deliveries', async () => {
    const api = await caller(ADMIN)
    const { apiKey } = await api.apps.create({
      name: 'billing',
      relays: [
        { url: A, mode: 'forward' },
        { url: B, mode: 'hmac' },
        { url: C, mode: 'sign', clientId: 'c' },
      ],
    })
    await api.apps.create({ name: 'other' })
    await api.sessions.revoke({ app: 'billing', sub: 'alice' })
    const listed = await api.relays.list({ app: 'billing' })
    expect(listed.map((d) => d.url).sort()).toEqual([B, C])
    expect(listed[0]).toMatchObject({ app: 'billing', state: 'pending', attempts: 0, createdAt: t })
    expect(JSON.stringify(listed)).not.toContain('logout')

    const owner = await caller(apiKey)
    expect(await owner.relays.list({ app: 'billing' })).toHaveLength(2)
    await rejects(owner.relays.list({ app: 'other' }), 'FORBIDDEN')
    await rejects(owner.relays.list(), 'FORBIDDEN')
    const [first] = listed
    if (!first) throw new Error('no delivery')
    await rejects(owner.relays.discard({ id: first.id }), 'FORBIDDEN')
    await rejects(owner.relays.retry({ app: 'other', state: 'dead' }), 'FORBIDDEN')

    // Dead, then retried by its owner, one and then all of its own; the admin retries any application's.
    for (const d of listed) {
      const taken = await deps.store.outbox.take(d.id, 30)
      if (!taken) throw new Error('not taken')
      await deps.store.outbox.settle({ ...taken, state: 'dead', attempts: 1, lastStatus: 400, lastError: 'HTTP 400' })
    }
    expect(await api.relays.list({ state: 'dead' })).toHaveLength(2)
    expect(await owner.relays.retry({ id: first.id })).toEqual({ retried: 1 })
    expect(await owner.relays.retry({ id: first.id })).toEqual({ retried: 0 })
    expect(await owner.relays.retry({ app: 'billing', state: 'dead' })).toEqual({ retried: 1 })
    expect(await api.relays.retry({ app: 'billing', state: 'dead' })).toEqual({ retried: 0 })
    expect(await api.relays.list({ state: 'pending' })).toHaveLength(2)
    expect(await api.relays.discard({ id: first.id })).toEqual({ discarded: true })
    expect(await api.relays.list({ app: 'billing' })).toHaveLength(1)
    await rejects(api.relays.discard({ id: 'nope' }), 'BAD_REQUEST', /delivery id/)

    const otherKey = (await api.apps.rotateApiKey({ name: 'other' })).apiKey
    await rejects((await caller(otherKey)).relays.retry({ id: listed[1]?.id ?? '' }), 'FORBIDDEN')
    await rejects(owner.apps.rotateRelaySecret({ name: 'billing', url: B }), 'FORBIDDEN')
  })
})
