/**
 * What every preset must do beyond the core conformance suites: the app registry (secrets
 * sealed at rest), the audit log, removing an application, and a user with many sessions.
 */
import { createHash, createPrivateKey, createPublicKey, type JsonWebKey, randomBytes, sign, verify } from 'node:crypto'
import { createManualClock, type Factory, type ManualClock } from '@backchannel/core/testing'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { h, keys } from '../src/_internal/keys.js'
import { createAuditLog } from '../src/audit.js'
import type { AppRecord, BackchannelStore, StreamRecord } from '../src/index.js'
import { describeOutbox } from './outbox-suite.js'

/** A push stream named `okta` for the app `wiki`, made at `at` (seconds). */
export const streamRecord = (at: number, extra: Partial<StreamRecord> = {}): StreamRecord => ({
  name: 'okta',
  issuer: 'https://ssf.example.com',
  audience: 'https://gateway.example.com',
  jwksUri: 'https://ssf.example.com/jwks',
  apps: ['wiki'],
  authorizationHash: 'ab'.repeat(32),
  delivery: 'push',
  createdAt: at,
  updatedAt: at,
  ...extra,
})

export function describeStoreExtras(
  name: string,
  factory: Factory<BackchannelStore>,
  { bigUser = 10_000, concurrency = 500 }: { bigUser?: number; concurrency?: number } = {},
): void {
  describe(`store extras: ${name}`, () => {
    let clock: ManualClock
    let store: BackchannelStore
    let cleanup: (() => unknown) | undefined
    beforeEach(async () => {
      clock = createManualClock()
      const made = await factory(clock)
      ;({ store, cleanup } = 'store' in made ? made : { store: made, cleanup: undefined })
    })
    afterEach(async () => {
      await cleanup?.()
    })

    const secret = randomBytes(32)
    const apiKey = `bc_${randomBytes(24).toString('base64url')}`
    const hmacApp = (appName = 'billing'): AppRecord => ({
      kind: 'hmac',
      name: appName,
      secrets: [{ key: secret }, { key: randomBytes(32), notAfter: clock.now() + 60 }],
      policy: { audience: 'gateway' },
      apiKeyHash: createHash('sha256').update(apiKey).digest('hex'),
      createdAt: clock.now(),
      updatedAt: clock.now(),
    })
    const oidcApp = (appName = 'wiki'): AppRecord => ({
      kind: 'oidc',
      name: appName,
      issuer: 'https://id.example.com',
      clientId: 'wiki',
      jwksUri: 'https://id.example.com/jwks',
      algorithms: ['ES256'],
      apiKeyHash: createHash('sha256').update(`${appName}-key`).digest('hex'),
      createdAt: clock.now(),
      updatedAt: clock.now(),
    })

    it('keeps console sessions by their id hash until they expire, and ends them on delete', async () => {
      const session = {
        role: 'admin' as const,
        csrfToken: 'csrf-1',
        createdAt: clock.now(),
        expiresAt: clock.now() + 60,
      }
      await store.consoleSessions.create('hash-1', session)
      expect(await store.consoleSessions.get('hash-1')).toEqual(session)
      expect(await store.consoleSessions.get('hash-2')).toBeUndefined()
      await store.consoleSessions.delete('hash-1')
      expect(await store.consoleSessions.get('hash-1')).toBeUndefined()
      await store.consoleSessions.create('hash-3', session)
      clock.advance(61)
      expect(await store.consoleSessions.get('hash-3')).toBeUndefined()
    })

    it('registers applications, refuses a taken name, and finds one by API key hash', async () => {
      expect(await store.apps.create(hmacApp())).toBe(true)
      expect(await store.apps.create(hmacApp())).toBe(false)
      expect(await store.apps.create(oidcApp())).toBe(true)
      const got = await store.apps.get('billing')
      expect(got).toMatchObject({ kind: 'hmac', name: 'billing', policy: { audience: 'gateway' } })
      expect(got?.kind === 'hmac' && Buffer.from(got.secrets[0]?.key ?? []).equals(secret)).toBe(true)
      expect(await store.apps.get('wiki')).toEqual(oidcApp())
      expect((await store.apps.list()).map((a) => a.name)).toEqual(['billing', 'wiki'])
      expect(await store.apps.findByApiKeyHash(hmacApp().apiKeyHash)).toBe('billing')
      expect(await store.apps.get('nope')).toBeUndefined()
    })

    it('updates an application and moves its API key', async () => {
      await store.apps.create(hmacApp())
      const moved = { ...hmacApp(), apiKeyHash: 'f'.repeat(64), policy: { maxTokenAge: 30 } }
      await store.apps.update(moved)
      expect(await store.apps.findByApiKeyHash(hmacApp().apiKeyHash)).toBeUndefined()
      expect(await store.apps.findByApiKeyHash(moved.apiKeyHash)).toBe('billing')
      expect((await store.apps.get('billing'))?.policy).toEqual({ maxTokenAge: 30 })
    })

    it('never stores a secret or an API key in clear', async () => {
      await store.apps.create(hmacApp())
      const raw: string[] = []
      for (const key of await store.backend.storage.getKeys()) {
        // Index sets and logs of some backends are not records (Redis answers WRONGTYPE):
        // the Redis test reads those raw.
        const value = await store.backend.storage.getItem(key).catch(() => undefined)
        raw.push(key, JSON.stringify(value))
      }
      const dump = raw.join('\n')
      expect(dump).toContain('billing') // the record is there…
      for (const form of [secret.toString('base64url'), secret.toString('base64'), secret.toString('hex'), apiKey]) {
        expect(dump).not.toContain(form) // …but not the secret or the key
      }
    })

    it('refuses to open secrets with another master key', async () => {
      await store.apps.create(hmacApp())
      const stored = await store.backend.storage.getItem(
        (await store.backend.storage.getKeys()).find((k) => k.startsWith('app:')) ?? '',
      )
      expect(JSON.stringify(stored)).toMatch(/"sealed":"v1\./)
    })

    it('deletes an application with its sessions, and frees its name', async () => {
      await store.apps.create(oidcApp())
      await store.register({ app: 'wiki', iss: 'https://id.example.com', sessionId: 's1', sub: 'u', sid: 'x' })
      await store.register({ app: 'other', iss: 'https://id.example.com', sessionId: 's1', sub: 'u', sid: 'x' })
      expect(await store.apps.delete('wiki')).toBe(true)
      expect(await store.apps.delete('wiki')).toBe(false)
      expect(await store.status('wiki', 's1')).toEqual({ state: 'unknown' })
      expect(await store.list('wiki', 'https://id.example.com', 'u')).toEqual([])
      expect(await store.status('other', 's1')).toEqual({ state: 'active' })
      expect(await store.apps.findByApiKeyHash(oidcApp().apiKeyHash)).toBeUndefined()
      expect(await store.apps.create(oidcApp())).toBe(true)
    })

    it('drops index entries that no longer name a live session of theirs when the index is next read', async () => {
      await store.register({ app: 'a', iss: 'i', sessionId: 'moved', sub: 'u' })
      await store.register({ app: 'a', iss: 'i', sessionId: 'kept', sub: 'u' })
      // Registered again under another user: u's index still names it, but the record is v's.
      await store.register({ app: 'a', iss: 'i', sessionId: 'moved', sub: 'v' })
      const index = keys.of('a', 'i').subIndex('u')
      expect((await store.backend.members(index)).sort()).toEqual(
        [keys.sessionMember('kept'), keys.sessionMember('moved')].sort(),
      )
      expect((await store.list('a', 'i', 'u')).map((r) => r.sessionId)).toEqual(['kept'])
      expect(await store.backend.members(index)).toEqual([keys.sessionMember('kept')])
    })

    it('reads an index with its records and other records asked for, in order, null where none is', async () => {
      const { backend } = store
      const until = clock.now() + 600
      await backend.addMember('set:x', 'm1', until)
      await backend.addMember('set:x', 'gone', until)
      await backend.setMany(
        [
          { key: 'rec:m1', value: { n: 1 }, expiresAt: until },
          { key: 'other:b', value: { n: 2 }, expiresAt: until },
        ],
        clock.now(),
      )
      const read = await backend.readIndex('set:x', 'rec:', ['other:a', 'other:b'])
      expect(read.members.sort((a, b) => a.member.localeCompare(b.member))).toEqual([
        { member: 'gone', value: null },
        { member: 'm1', value: { n: 1 } },
      ])
      expect(read.also).toEqual([null, { n: 2 }])
      expect(await backend.readIndex('set:none', 'rec:')).toEqual({ members: [], also: [] })
    })

    it('keeps an audit log per application and overall, newest first, with a cursor', async () => {
      for (let i = 0; i < 5; i++) {
        await store.audit.record({ app: i % 2 ? 'a' : 'b', source: 'backchannel', outcome: 'revoked', revoked: i })
        clock.advance(1)
      }
      const all = await store.audit.list({ limit: 3 })
      expect(all.map((r) => r.revoked)).toEqual([4, 3, 2])
      expect((await store.audit.list({ before: all.at(-1)?.id })).map((r) => r.revoked)).toEqual([1, 0])
      expect((await store.audit.list({ app: 'a' })).map((r) => r.revoked)).toEqual([3, 1])
    })

    /** The store's backend, counting its appends. */
    const countAppends = () => {
      const { backend } = store
      const append = backend.append
      const counted = { appends: 0, restore: () => Object.assign(backend, { append }) }
      backend.append = (...args) => {
        counted.appends++
        return append.apply(backend, args)
      }
      return counted
    }

    it('writes the audit records made within its batch window in one append, and caps each log', async () => {
      const counted = countAppends()
      const audit = createAuditLog(store.backend, randomBytes(32), clock.now, 5)
      const records: ReturnType<typeof audit.record>[] = []
      for (let i = 0; i < 120; i++) {
        records.push(audit.record({ app: i % 2 ? 'a' : 'b', source: 'backchannel', outcome: 'revoked', revoked: i }))
        if (i === 60) await new Promise((resolve) => setImmediate(resolve)) // another turn of the event loop
      }
      const written = await Promise.all(records)
      counted.restore()
      expect(counted.appends).toBe(1)
      expect(new Set(written.map((r) => r.id)).size).toBe(120)
      expect((await audit.list()).map((r) => r.revoked)).toEqual([119, 118, 117, 116, 115])
      expect((await audit.list({ app: 'a' })).map((r) => r.revoked)).toEqual([119, 117, 115, 113, 111])
    })

    it('stamps a record when it is made, and writes what is waiting on close()', async () => {
      const counted = countAppends()
      const audit = createAuditLog(store.backend, randomBytes(32), clock.now)
      const at = clock.now()
      const record = audit.record({ app: 'a', source: 'backchannel', outcome: 'revoked', revoked: 1 })
      clock.advance(5)
      await audit.close()
      counted.restore()
      expect(counted.appends).toBe(1)
      expect(await record).toMatchObject({ at, revoked: 1 })
      expect((await audit.list()).map((r) => [r.at, r.revoked])).toEqual([[at, 1]])
    })

    it("rejects every record of a batch the backend could not write, with the backend's error", async () => {
      const audit = createAuditLog(store.backend, randomBytes(32), clock.now)
      const { backend } = store
      const append = backend.append
      backend.append = () => Promise.reject(new Error('ECONNRESET'))
      const records = [1, 2].map((revoked) =>
        audit.record({ app: 'a', source: 'backchannel', outcome: 'revoked', revoked }),
      )
      const results = await Promise.allSettled(records)
      backend.append = append
      expect(results.map((r) => r.status === 'rejected' && (r.reason as Error).message)).toEqual([
        'ECONNRESET',
        'ECONNRESET',
      ])
    })

    it('keeps only a keyed hash of the sub in audit records', async () => {
      const record = await store.audit.record({
        app: 'a',
        source: 'admin',
        outcome: 'revoked',
        sub: 'alice@example.com',
        iss: 'https://id',
        sid: 's',
      })
      expect(record.subHash).toBe(store.audit.hashSub('alice@example.com'))
      expect(JSON.stringify(await store.audit.list())).not.toContain('alice@example.com')
    })

    it('keeps a setting written once, by whichever instance comes first', async () => {
      expect(await store.settings.get('admin-token-hash')).toBeUndefined()
      expect(await store.settings.setIfAbsent('admin-token-hash', 'first')).toBe(true)
      expect(await store.settings.setIfAbsent('admin-token-hash', 'second')).toBe(false)
      expect(await store.settings.get('admin-token-hash')).toBe('first')
    })

    it('a setting asked for by many callers at once: one stores it, and none returns before it is there', async () => {
      const answers = await Promise.all(
        Array.from({ length: 10 }, async (_, i) => {
          const stored = await store.settings.setIfAbsent('token', `value-${i}`)
          return { stored, read: await store.settings.get('token') }
        }),
      )
      expect(answers.filter((a) => a.stored)).toHaveLength(1)
      const winner = `value-${answers.findIndex((a) => a.stored)}`
      expect(answers.map((a) => a.read)).toEqual(Array(10).fill(winner))
    })

    it('generates one signing key however many callers ask at once, its private part sealed', async () => {
      expect(await store.keys.list()).toEqual([])
      const answers = await Promise.all(Array.from({ length: 5 }, () => store.keys.ensure()))
      const [key, ...others] = answers[0] ?? []
      expect(others).toEqual([])
      expect(answers.every((a) => a.length === 1 && a[0]?.kid === key?.kid)).toBe(true)
      expect(key).toMatchObject({ alg: 'ES256', state: 'current', createdAt: clock.now() })
      expect(key?.publicJwk).toEqual({ kty: 'EC', crv: 'P-256', x: expect.any(String), y: expect.any(String) })
      // The private part signs what the published part verifies.
      const data = Buffer.from('logout')
      const signature = sign('sha256', data, createPrivateKey({ key: key?.privateJwk as JsonWebKey, format: 'jwk' }))
      expect(
        verify('sha256', data, createPublicKey({ key: key?.publicJwk as JsonWebKey, format: 'jwk' }), signature),
      ).toBe(true)
      const raw = JSON.stringify(await store.backend.getMany([`gk:${h(key?.kid ?? '')}`]))
      expect(raw).toContain('sealed')
      expect(raw).not.toContain(key?.privateJwk.d)
      expect(await store.keys.ensure()).toEqual([key])
    })

    it('rotates signing keys: the old one stays published for the grace, then is gone', async () => {
      const [first] = await store.keys.ensure()
      clock.advance(100)
      const second = await store.keys.rotate(3600)
      const listed = await store.keys.list()
      expect(listed.map((k) => [k.kid, k.state, k.retiresAt])).toEqual([
        [second, 'current', undefined],
        [first?.kid, 'retiring', clock.now() + 3600],
      ])
      clock.advance(3600)
      expect((await store.keys.list()).map((k) => k.kid)).toEqual([second])
      // A rotation without grace retires every older key at once (a key thought compromised).
      clock.advance(1)
      const third = await store.keys.rotate(0)
      expect((await store.keys.list()).map((k) => k.kid)).toEqual([third])
      // Retired keys' records are removed, not only hidden.
      expect(await store.backend.members('signing-keys')).toEqual([h(third)])
    })

    it('keeps the earliest end of grace when rotations overlap', async () => {
      const [first] = await store.keys.ensure()
      clock.advance(10)
      const second = await store.keys.rotate(3600)
      clock.advance(10)
      const third = await store.keys.rotate(60)
      expect((await store.keys.list()).map((k) => [k.kid, k.state, k.retiresAt])).toEqual([
        [third, 'current', undefined],
        [second, 'retiring', clock.now() + 60],
        [first?.kid, 'retiring', clock.now() + 60],
      ])
    })

    it(`revokes a user with ${bigUser.toLocaleString('en')} sessions in one call`, async () => {
      const iss = 'https://id.example.com'
      const batch = concurrency
      for (let i = 0; i < bigUser; i += batch) {
        await Promise.all(
          Array.from({ length: Math.min(batch, bigUser - i) }, (_, j) =>
            store.register({ app: 'big', iss, sessionId: `s${i + j}`, sub: 'busy', sid: `sid${i + j}` }),
          ),
        )
      }
      await store.register({ app: 'big', iss, sessionId: 'bystander', sub: 'calm' })
      expect(await store.revoke({ app: 'big', iss, sub: 'busy', scope: 'session', issuedAt: clock.now() })).toEqual({
        revoked: bigUser,
      })
      expect(await store.status('big', `s${bigUser - 1}`)).toMatchObject({ state: 'revoked' })
      expect(await store.status('big', 'bystander')).toEqual({ state: 'active' })
    })

    it('registers Shared Signals streams, refuses a taken name, and deletes one', async () => {
      const stream = streamRecord(clock.now())
      expect(await store.streams.create(stream)).toBe(true)
      expect(await store.streams.create({ ...stream, issuer: 'https://other.example.com' })).toBe(false)
      expect(await store.streams.create({ ...stream, name: 'auth0' })).toBe(true)
      expect(await store.streams.get('okta')).toEqual(stream)
      expect((await store.streams.list()).map((s) => s.name)).toEqual(['auth0', 'okta'])
      expect(await store.streams.delete('okta')).toBe(true)
      expect(await store.streams.delete('okta')).toBe(false)
      expect(await store.streams.get('okta')).toBeUndefined()
      expect(await store.streams.create(stream)).toBe(true)
    })

    it('stream state: an older stream-updated loses to a newer one; a deleted stream takes no state, and its name starts clean', async () => {
      const stream = streamRecord(clock.now())
      const t = clock.now()
      const updated = (status: 'enabled' | 'paused', issuedAt: number) =>
        store.streams.recordEvent('okta', { event: 'stream-updated', status, issuedAt }, t)
      expect(await store.streams.create(stream)).toBe(true)
      expect(await updated('enabled', t + 10)).toBe(true)
      // A redelivered older pause does not overwrite the newer enable.
      expect(await updated('paused', t)).toBe(false)
      expect(await store.streams.state('okta')).toEqual({ status: 'enabled' })
      expect(await updated('paused', t + 20)).toBe(true)
      expect(await store.streams.state('okta')).toMatchObject({ status: 'paused' })

      expect(await store.streams.delete('okta')).toBe(true)
      // Events that raced the delete write nothing a stream created later would inherit.
      await store.streams.touch('okta', t + 30)
      expect(await updated('disabled' as 'paused', t + 40)).toBe(false)
      expect(await store.streams.create(stream)).toBe(true)
      expect(await store.streams.state('okta')).toEqual({ status: 'enabled' })
    })

    it("keeps a poll stream's token, its state apart from its record, and one poll lease per term", async () => {
      const stream = streamRecord(clock.now(), { delivery: 'poll', pollToken: 'the-poll-token' })
      expect(await store.streams.create(stream)).toBe(true)
      expect(await store.streams.get('okta')).toEqual(stream)
      const connected = { ...stream, streamId: 's-1', pollEndpointUrl: 'https://ssf.example.com/poll' }
      await store.streams.update(connected)
      expect(await store.streams.get('okta')).toEqual(connected)

      expect(await store.streams.state('okta')).toEqual({ status: 'enabled' })
      const t = clock.now()
      await store.streams.requestVerification('okta', { state: 'st-1', requestedAt: t })
      expect(await store.streams.recordEvent('okta', { event: 'verification', state: 'other' }, t + 1)).toBe(false)
      expect(await store.streams.recordEvent('okta', { event: 'verification', state: 'st-1' }, t + 2)).toBe(true)
      expect(await store.streams.recordEvent('okta', { event: 'verification', state: 'st-1' }, t + 3)).toBe(true)
      const paused = { event: 'stream-updated' as const, status: 'paused' as const, reason: 'maintenance' }
      expect(await store.streams.recordEvent('okta', paused, t + 4)).toBe(true)
      await store.streams.touch('okta', t + 5)
      expect(await store.streams.state('okta')).toEqual({
        status: 'paused',
        statusReason: 'maintenance',
        lastEventAt: t + 5,
        lastVerification: { state: 'st-1', requestedAt: t, verifiedAt: t + 2 },
      })
      // The record is untouched by its events.
      expect(await store.streams.get('okta')).toEqual(connected)

      expect(await store.streams.lease('okta', 7, t + 30)).toBe(true)
      expect(await store.streams.lease('okta', 7, t + 30)).toBe(false)
      expect(await store.streams.lease('okta', 8, t + 60)).toBe(true)
      await store.streams.releaseLease('okta', 7)
      expect(await store.streams.lease('okta', 7, t + 30)).toBe(true)

      expect(await store.streams.delete('okta')).toBe(true)
      expect(await store.streams.create(stream)).toBe(true)
      expect(await store.streams.state('okta')).toEqual({ status: 'enabled' })
    })

    it('ends, for a bounded revocation, only the sessions that began by its issuedAt, now and later', async () => {
      const iss = 'https://id.example.com'
      const t = clock.now()
      await store.register({ app: 'wiki', iss, sessionId: 'old', sub: 'alice', authTime: t - 600 })
      await store.register({ app: 'wiki', iss, sessionId: 'new', sub: 'alice', authTime: t - 100 })
      const target = { app: 'wiki', iss, sub: 'alice', scope: 'session' as const, issuedAt: t - 300, bounded: true }
      expect(await store.revoke(target)).toEqual({ revoked: 1 })
      expect((await store.status('wiki', 'old')).state).toBe('revoked')
      expect(await store.status('wiki', 'new')).toEqual({ state: 'active' })
      clock.advance(10)
      await store.register({ app: 'wiki', iss, sessionId: 'late-old', sub: 'alice', authTime: t - 400 })
      await store.register({ app: 'wiki', iss, sessionId: 'late-new', sub: 'alice', authTime: t - 200 })
      expect((await store.status('wiki', 'late-old')).state).toBe('revoked')
      expect(await store.status('wiki', 'late-new')).toEqual({ state: 'active' })
      // An unbounded logout after it still ends every session registered by then.
      expect(await store.revoke({ ...target, bounded: false, issuedAt: t - 1000 })).toEqual({ revoked: 2 })
      // And a bounded one after that keeps the unbounded one's reach.
      await store.revoke(target)
      expect((await store.status('wiki', 'new')).state).toBe('revoked')
    })

    it('keeps the secrets of hmac relays sealed at rest', async () => {
      const relaySecret = 'bcs_relay-secret-that-must-not-leak'
      const url = 'https://c.example.com/bcl'
      await store.apps.create({ ...oidcApp(), relays: [{ url, mode: 'hmac' }], relaySecrets: { [url]: relaySecret } })
      expect((await store.apps.get('wiki'))?.relaySecrets).toEqual({ [url]: relaySecret })
      const raw: string[] = []
      for (const key of await store.backend.storage.getKeys()) {
        raw.push(JSON.stringify(await store.backend.storage.getItem(key).catch(() => undefined)))
      }
      expect(raw.join('\n')).toContain(url)
      expect(raw.join('\n')).not.toContain(relaySecret)
    })
  })
  describeOutbox(name, factory)
}

/**
 * For presets shared by several gateways: 100 concurrent claims of one key, spread over 4 store
 * instances (4 connections), have exactly one winner. `open` builds one instance on shared data.
 */
export function itClaimsOnceAcrossInstances(open: (shared: string) => Promise<BackchannelStore> | BackchannelStore) {
  it('lets exactly 1 of 100 concurrent claims win across 4 store instances (4 connections)', async () => {
    const shared = `race${Date.now()}`
    const stores = await Promise.all(Array.from({ length: 4 }, () => open(shared)))
    try {
      const until = Date.now() / 1000 + 60
      const results = await Promise.all(Array.from({ length: 100 }, (_, i) => stores[i % 4]?.claim('one-jti', until)))
      expect(results.filter(Boolean)).toHaveLength(1)
    } finally {
      await Promise.all(stores.map((s) => s.close()))
    }
  })
}

/** For presets shared by several gateways: 4 instances starting at once on one store make one signing key. */
export function itMakesOneSigningKeyAcrossInstances(
  open: (shared: string) => Promise<BackchannelStore> | BackchannelStore,
) {
  it('generates exactly one signing key when 4 store instances start at once', async () => {
    const shared = `keys${Date.now()}`
    const stores = await Promise.all(Array.from({ length: 4 }, () => open(shared)))
    try {
      const answers = await Promise.all(stores.flatMap((store) => [store.keys.ensure(), store.keys.ensure()]))
      const kids = new Set(answers.flatMap((keys) => keys.map((k) => k.kid)))
      expect(kids.size).toBe(1)
    } finally {
      await Promise.all(stores.map((s) => s.close()))
    }
  })
}

/**
 * For presets on a server: no secret, API key or `sub` in clear anywhere the store writes.
 * `dump` reads every value the server holds for `shared` (keys, rows, set members) as text.
 */
export function itKeepsNoSecretInClear(
  open: (shared: string) => Promise<BackchannelStore> | BackchannelStore,
  dump: (shared: string) => Promise<string[]>,
) {
  it('keeps no secret, API key or sub in clear in anything it writes on the server', async () => {
    const shared = `raw${Date.now()}`
    const store = await open(shared)
    const secret = randomBytes(32)
    try {
      await store.apps.create({
        kind: 'hmac',
        name: 'billing',
        secrets: [{ key: secret }],
        apiKeyHash: 'a'.repeat(64),
        createdAt: 0,
        updatedAt: 0,
      })
      await store.audit.record({ app: 'billing', source: 'admin', outcome: 'revoked', sub: 'alice' })
      const pollToken = `poll-${randomBytes(16).toString('hex')}`
      await store.streams.create({
        name: 'okta',
        issuer: 'https://ssf.example.com',
        audience: 'https://gateway.example.com',
        jwksUri: 'https://ssf.example.com/jwks',
        apps: ['billing'],
        authorizationHash: 'b'.repeat(64),
        delivery: 'poll',
        pollToken,
        createdAt: 0,
        updatedAt: 0,
      })
      const all = (await dump(shared)).join('\n')
      expect(all).toContain('sealed')
      for (const form of [
        secret.toString('base64url'),
        secret.toString('base64'),
        secret.toString('hex'),
        'alice',
        pollToken,
      ]) {
        expect(all).not.toContain(form)
      }
    } finally {
      await store.close()
    }
  })
}

/** A server of its own, for {@link itRecoversFromAnOutage}. */
export interface OwnServer {
  url: string
  stop(): Promise<void>
  /** Starts it again on the same port (empty or not: the test writes afresh). */
  restart(): Promise<void>
  remove(): Promise<void>
}

/**
 * For presets on a server: while it is down every call answers ERR_STORE_UNAVAILABLE (never
 * "not found"), and the same store works again once it is back.
 */
export function itRecoversFromAnOutage(
  server: () => Promise<OwnServer>,
  open: (url: string) => Promise<BackchannelStore> | BackchannelStore,
) {
  it('answers ERR_STORE_UNAVAILABLE while the server is down, and works again once it is back', async () => {
    const own = await server()
    try {
      const store = await open(own.url)
      try {
        await store.register({ app: 'a', iss: 'i', sessionId: 's', sub: 'u' })
        await own.stop()
        const unavailable = { code: 'ERR_STORE_UNAVAILABLE' }
        await expect(store.status('a', 's')).rejects.toMatchObject(unavailable)
        await expect(store.claim('j', Date.now() / 1000 + 60)).rejects.toMatchObject(unavailable)
        await expect(
          store.revoke({ app: 'a', iss: 'i', sub: 'u', scope: 'session', issuedAt: 1 }),
        ).rejects.toMatchObject(unavailable)
        await expect(store.ping()).rejects.toMatchObject(unavailable)

        await own.restart()
        const up = () =>
          store.ping().then(
            () => true,
            () => false,
          )
        await expect.poll(up, { timeout: 10_000 }).toBe(true)
        await store.register({ app: 'a', iss: 'i', sessionId: 's2', sub: 'u' })
        expect(await store.status('a', 's2')).toEqual({ state: 'active' })
      } finally {
        await store.close()
      }
    } finally {
      await own.remove()
    }
  })
}
