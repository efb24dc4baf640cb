/**
 * What every preset's export and import must do: a dump loaded into an empty store of the same
 * kind dumps again to the same entries, and the state reads back the same.
 */
import { createHash, randomBytes } from 'node:crypto'
import { expect, it } from 'vitest'
import type { AppRecord, BackchannelStore } from '../src/index.js'
import { streamRecord } from './store-suite.js'

/** Exports `store`; resolves with the dump's lines. */
export async function exportLines(store: BackchannelStore): Promise<string[]> {
  const lines: string[] = []
  await store.exportState((line) => lines.push(line))
  return lines
}

/** A `read` for {@link BackchannelStore.importState} over lines in memory. */
export const reading = (lines: string[]) =>
  async function* () {
    yield* lines
  }

/** The entries of a dump, without its header and end line, in one order. */
export const entriesOf = (lines: string[]) => lines.slice(1, -1).sort()

/**
 * Fills a store with one of each kind of state: an HMAC app (sealed secret), an OIDC app, active
 * and revoked sessions, a live claim, audit entries, a setting and a signing key. Returns what to read back.
 */
export async function fillState(store: BackchannelStore) {
  const now = Date.now() / 1000
  const secret = randomBytes(32)
  const hmac: AppRecord = {
    kind: 'hmac',
    name: 'billing',
    secrets: [{ key: secret }],
    apiKeyHash: createHash('sha256').update('billing-key').digest('hex'),
    createdAt: Math.floor(now),
    updatedAt: Math.floor(now),
  }
  const oidc: AppRecord = {
    kind: 'oidc',
    name: 'wiki',
    issuer: 'https://id.example.com',
    clientId: 'wiki',
    jwksUri: 'https://id.example.com/jwks',
    algorithms: ['ES256'],
    apiKeyHash: createHash('sha256').update('wiki-key').digest('hex'),
    createdAt: Math.floor(now),
    updatedAt: Math.floor(now),
  }
  expect(await store.apps.create(hmac)).toBe(true)
  expect(await store.apps.create(oidc)).toBe(true)
  const iss = 'https://id.example.com'
  for (const [sessionId, sub, sid, email] of [
    ['s1', 'alice', 'x1', undefined],
    ['s2', 'alice', 'x2', 'Alice@Example.com'],
    ['s3', 'bob', 'x3', 'bob@example.com'],
  ] as const) {
    await store.register({ app: 'wiki', iss, sessionId, sub, sid, ...(email ? { email } : {}) })
  }
  await store.revoke({ app: 'wiki', iss, sid: 'x1', scope: 'session', issuedAt: now })
  expect(await store.claim('jti-live', now + 3600)).toBe(true)
  await store.audit.record({ app: 'wiki', source: 'backchannel', outcome: 'revoked', iss, sid: 'x1', revoked: 1 })
  await store.audit.record({ app: 'billing', source: 'admin', outcome: 'rejected', code: 'ERR_LOGOUT_TOKEN_ALG' })
  await store.settings.setIfAbsent('admin-token', 'hash-of-the-admin-token')
  const signingKeys = await store.keys.ensure()
  const stream = streamRecord(now, { revokeOnCredentialChange: true })
  await store.streams.create(stream)
  return { hmac, oidc, secret, signingKeys, stream }
}

/** Asserts that `store` holds what {@link fillState} wrote. */
export async function expectFilledState(store: BackchannelStore, filled: Awaited<ReturnType<typeof fillState>>) {
  const billing = await store.apps.get('billing')
  expect(billing?.kind === 'hmac' && Buffer.from(billing.secrets[0]?.key ?? []).equals(filled.secret)).toBe(true)
  expect(await store.apps.get('wiki')).toEqual(filled.oidc)
  expect(await store.apps.findByApiKeyHash(filled.hmac.apiKeyHash)).toBe('billing')
  expect((await store.status('wiki', 's1')).state).toBe('revoked')
  expect(await store.status('wiki', 's2')).toEqual({ state: 'active' })
  expect(await store.status('wiki', 's3')).toEqual({ state: 'active' })
  expect((await store.list('wiki', 'https://id.example.com', 'alice')).map((s) => s.sessionId).sort()).toEqual([
    's1',
    's2',
  ])
  // Emails and their index moved too; a session registered without one still reads.
  expect((await store.listByEmail?.('wiki', 'alice@example.com'))?.map((s) => [s.sessionId, s.email])).toEqual([
    ['s2', 'Alice@Example.com'],
  ])
  expect(
    (await store.list('wiki', 'https://id.example.com', 'alice')).find((s) => s.sessionId === 's1'),
  ).not.toHaveProperty('email')
  // The claim survived: the same token is a replay.
  expect(await store.claim('jti-live', Date.now() / 1000 + 3600)).toBe(false)
  expect((await store.audit.list()).map((r) => [r.app, r.outcome])).toEqual([
    ['billing', 'rejected'],
    ['wiki', 'revoked'],
  ])
  expect((await store.audit.list({ app: 'wiki' })).map((r) => r.sid)).toEqual(['x1'])
  expect(await store.settings.get('admin-token')).toBe('hash-of-the-admin-token')
  // The signing key moved with its sealed private part, which opens under the same master key.
  expect(await store.keys.list()).toEqual(filled.signingKeys)
  expect(await store.streams.list()).toEqual([filled.stream])
}

/**
 * The round trip on one preset: fill, export, import into an empty store of the same kind,
 * export again: the same entries, and the state reads back the same.
 */
export function itRoundTrips(open: () => Promise<BackchannelStore> | BackchannelStore) {
  it('exports its state and imports it into an empty store of its kind: the same entries, the same state', async () => {
    const source = await open()
    const target = await open()
    try {
      const filled = await fillState(source)
      const lines = await exportLines(source)
      expect(JSON.parse(lines[0] as string)).toMatchObject({ backchannel: 'dump', format: 1 })
      expect(entriesOf(lines).length).toBeGreaterThan(10)
      expect(await target.importState(reading(lines))).toEqual({ entries: lines.length - 2 })
      expect(entriesOf(await exportLines(target))).toEqual(entriesOf(lines))
      await expectFilledState(target, filled)
    } finally {
      await source.close()
      await target.close()
    }
  })
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 5))

/**
 * A merge never undoes what the target did since the dump was made: a dump taken before a session
 * was revoked, and before a subject's later logout, merged back (twice) leaves both in force.
 */
export function itMergesWithoutUndoing(open: () => Promise<BackchannelStore> | BackchannelStore) {
  it('merging an older dump keeps the logouts made since, and a rerun changes nothing', async () => {
    const store = await open()
    try {
      const iss = 'https://id.example.com'
      await store.register({ app: 'wiki', iss, sessionId: 's1', sub: 'alice', sid: 'x1' })
      await store.revoke({ app: 'wiki', iss, sub: 'bob', scope: 'user', issuedAt: Date.now() / 1000 })
      await tick()
      await store.register({ app: 'wiki', iss, sessionId: 's2', sub: 'bob' })
      expect(await store.claim('jti-long', Date.now() / 1000 + 7200)).toBe(true)
      const before = await exportLines(store)
      await tick()
      // Since the dump: s1 revoked by its sid, bob logged out again (a newer watermark covers s2).
      await store.revoke({ app: 'wiki', iss, sid: 'x1', scope: 'session', issuedAt: Date.now() / 1000 })
      await store.revoke({ app: 'wiki', iss, sub: 'bob', scope: 'user', issuedAt: Date.now() / 1000 })
      const after = await exportLines(store)
      for (let run = 0; run < 2; run++) {
        await store.importState(reading(before), { merge: true })
        expect((await store.status('wiki', 's1')).state).toBe('revoked')
        expect((await store.status('wiki', 's2')).state).toBe('revoked')
        expect(await store.claim('jti-long', Date.now() / 1000 + 60)).toBe(false)
        expect(entriesOf(await exportLines(store))).toEqual(entriesOf(after))
      }
    } finally {
      await store.close()
    }
  })
}

/** A merge writes a record where the target's own has expired (but may not yet be swept away). */
export function itMergesOverExpired(open: () => Promise<BackchannelStore> | BackchannelStore) {
  it('merging writes a record where the one there has expired', async () => {
    const source = await open()
    const target = await open()
    try {
      const session = { app: 'wiki', iss: 'https://id.example.com', sessionId: 's9', sub: 'carol', sid: 'x9' }
      await source.register(session)
      const lines = await exportLines(source)
      await target.register({ ...session, expiresAt: Date.now() / 1000 + 1 })
      await new Promise((resolve) => setTimeout(resolve, 1500))
      expect((await target.status('wiki', 's9')).state).toBe('unknown')
      await target.importState(reading(lines), { merge: true })
      expect(await target.status('wiki', 's9')).toEqual({ state: 'active' })
    } finally {
      await source.close()
      await target.close()
    }
  })
}

/**
 * A dump that names a key twice (a Redis SCAN may return a key twice, and a dump of Redis then
 * repeats its entries) imports, and reads back as the dump without the repeats.
 */
export function itTakesAKeyTwice(open: () => Promise<BackchannelStore> | BackchannelStore) {
  it('imports a dump that holds some entries twice, as if once', async () => {
    const source = await open()
    const target = await open()
    try {
      await fillState(source)
      const lines = await exportLines(source)
      const entries = lines.slice(1, -1)
      const twice = [
        lines[0] as string,
        ...entries,
        ...entries,
        JSON.stringify({ kind: 'end', entries: 2 * entries.length }),
      ]
      await target.importState(reading(twice))
      expect(entriesOf(await exportLines(target))).toEqual(entriesOf(lines))
    } finally {
      await source.close()
      await target.close()
    }
  })
}
