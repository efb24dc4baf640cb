/**
 * The relay drainer over a real memory store, with a manual clock and attempts it is handed; then
 * over a real fs store, the real attempt and a receiver on loopback, when the token cannot be minted.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AppRecord, BackchannelStore, RelayAttemptResult, RelayDelivery } from '@backchannel/unstorage'
import { fsStore } from '@backchannel/unstorage/fs'
import { memoryStore } from '@backchannel/unstorage/memory'
import pino from 'pino'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createAuditRecorder } from '../src/audit.js'
import { createMetrics } from '../src/metrics.js'
import {
  type AttemptDelivery,
  createAttemptDelivery,
  MAX_AGE_SECONDS,
  NOT_SENT,
  type PlanRetry,
  planRetry,
  RETRY_SCHEDULE,
} from '../src/relay/attempt.js'
import { createRelayDrainer } from '../src/relay/drainer.js'
import { createGatewaySigner } from '../src/relay/signer.js'
import { type RelayReceiver, startRelayReceiver } from './fixtures/relay-receiver.js'

const URL_A = 'https://a.example.com/bcl'
let t: number
let store: ReturnType<typeof memoryStore>
beforeEach(async () => {
  t = 1_800_000_000
  store = memoryStore({ now: () => t })
  const app: AppRecord = {
    kind: 'oidc',
    name: 'wiki',
    issuer: 'https://id.example.com',
    clientId: 'wiki',
    jwksUri: 'https://id.example.com/jwks',
    relays: [{ url: URL_A, mode: 'hmac' }],
    relaySecrets: { [URL_A]: 'bcs_relay-secret' },
    apiKeyHash: 'a'.repeat(64),
    createdAt: t,
    updatedAt: t,
  }
  await store.apps.create(app)
})
afterEach(() => store.close())

const logout = () =>
  store.revoke({
    app: 'wiki',
    iss: 'https://id.example.com',
    sub: 'alice',
    scope: 'session',
    issuedAt: t,
    relay: { relays: [{ url: URL_A, mode: 'hmac' }] },
  })
const neverAgain: PlanRetry = () => ({ state: 'dead' })

function drainer(attempt: AttemptDelivery, planRetry: PlanRetry = neverAgain) {
  const audit = createAuditRecorder(store.audit, pino({ level: 'silent' }), () => t)
  const metrics = createMetrics()
  const made = createRelayDrainer({
    outbox: store.outbox,
    apps: store.apps,
    attempt,
    planRetry,
    audit,
    metrics,
    logger: pino({ level: 'silent' }),
    now: () => t,
    pollMs: 60_000,
  })
  return { ...made, audit, metrics }
}

it("hands an hmac relay's attempt its secret, and records the outcome", async () => {
  await logout()
  const seen: [RelayDelivery, string | undefined][] = []
  const d = drainer(async (delivery, secret) => {
    seen.push([delivery, secret])
    return { outcome: 'delivered', status: 204 }
  })
  await d.wake()
  await d.close()
  await d.audit.close()
  expect(seen).toHaveLength(1)
  expect(seen[0]?.[1]).toBe('bcs_relay-secret')
  expect(seen[0]?.[0]).toMatchObject({ mode: 'hmac', attempts: 0, logout: { sub: 'alice' } })
  const [row] = await store.outbox.list()
  expect(row).toMatchObject({ state: 'delivered', attempts: 1, lastStatus: 204, deliveredAt: t })
  expect(row?.lastError).toBeUndefined()
  expect(await store.audit.list({ app: 'wiki' })).toEqual([
    expect.objectContaining({ source: 'relay', outcome: 'delivered', attempts: 1, status: 204, url: URL_A }),
  ])
  // Read again by the pass after the attempt: nothing left pending.
  expect(await d.metrics.registry.getSingleMetricAsString('backchannel_relay_pending')).toMatch(/ 0$/)
})

it('schedules the next attempt as planned, and attempts nothing before it is due', async () => {
  await logout()
  let calls = 0
  const later: PlanRetry = (_d, _r, now) => ({ state: 'pending', nextAttemptAt: now + 5 })
  const d = drainer(async () => {
    calls++
    return { outcome: 'retry', status: 503, error: 'HTTP 503' }
  }, later)
  await d.wake()
  expect((await store.outbox.list())[0]).toMatchObject({ state: 'pending', attempts: 1, nextAttemptAt: t + 5 })
  await d.wake()
  expect(calls).toBe(1)
  t += 5
  await d.wake()
  expect(calls).toBe(2)
  expect(await d.metrics.registry.getSingleMetricAsString('backchannel_relay_oldest_pending_seconds')).toMatch(/ 5$/)
  await d.close()
})

it('kills, without attempting it, a delivery whose relay was removed from its application', async () => {
  await logout()
  const app = (await store.apps.get('wiki')) as AppRecord
  await store.apps.update({ ...app, relays: [], relaySecrets: {} })
  let calls = 0
  const d = drainer(async () => {
    calls++
    return { outcome: 'delivered', status: 200 }
  })
  await d.wake()
  await d.close()
  await d.audit.close()
  expect(calls).toBe(0)
  expect((await store.outbox.list())[0]).toMatchObject({
    state: 'dead',
    attempts: 0,
    lastError: 'the relay was removed from the application',
  })
  expect((await store.audit.list({ app: 'wiki' }))[0]).toMatchObject({ source: 'relay', outcome: 'dead' })
})

it('survives an outbox it cannot read, and drains once the store answers again', async () => {
  await logout()
  const { pending } = store.outbox
  Object.assign(store.outbox, { pending: () => Promise.reject(new Error('connection lost')) })
  const results: RelayAttemptResult[] = []
  const d = drainer(async () => {
    const result: RelayAttemptResult = { outcome: 'delivered', status: 200 }
    results.push(result)
    return result
  })
  await d.wake()
  expect(results).toHaveLength(0)
  Object.assign(store.outbox, { pending })
  await d.wake()
  expect(results).toHaveLength(1)
  await d.close()
})

it('waits on close for an attempt in flight, at most the time it is given', async () => {
  await logout()
  let finish: (r: RelayAttemptResult) => void = () => {}
  const d = drainer(() => new Promise((resolve) => (finish = resolve)))
  const pass = d.wake()
  await new Promise((resolve) => setTimeout(resolve, 20))
  let closed = false
  const closing = d.close(5000).then(() => (closed = true))
  await new Promise((resolve) => setTimeout(resolve, 20))
  expect(closed).toBe(false)
  finish({ outcome: 'delivered', status: 200 })
  await closing
  await pass
  expect((await store.outbox.list())[0]?.state).toBe('delivered')

  await logout()
  const stuck = drainer(() => new Promise(() => {}))
  void stuck.wake()
  await new Promise((resolve) => setTimeout(resolve, 20))
  await stuck.close(50)
})

it('takes the next batch at once after a full one, not at the next poll', async () => {
  // 250 deliveries: more than two passes of 100, with the poll an hour away.
  for (let i = 0; i < 250; i++) await logout()
  let attempts = 0
  const d = drainer(async () => {
    attempts++
    return { outcome: 'delivered', status: 204 }
  })
  await expect.poll(() => attempts, { timeout: 10_000, interval: 50 }).toBe(250)
  await d.close()
  await d.audit.close()
  expect((await store.outbox.pending()).count).toBe(0)
})

describe('a try that cannot mint its token (a master key other than the one that sealed the secrets)', () => {
  let base: string
  let receiver: RelayReceiver
  beforeEach(async () => {
    base = await mkdtemp(join(tmpdir(), 'bc-unminted-'))
    receiver = await startRelayReceiver(async () => ({ status: 204 }))
  })
  afterEach(async () => {
    await receiver.close()
    await rm(base, { recursive: true, force: true })
  })
  const sealedKey = randomBytes(32)
  const otherKey = randomBytes(32)
  const open = (masterKey: Uint8Array) => fsStore({ base, masterKey, fsync: false, now: () => t })
  /** The real attempt and schedule (jitter fixed at 0), over `over`'s signing keys. */
  const drainOver = (over: BackchannelStore) => {
    const signer = createGatewaySigner({ keys: over.keys, now: () => t, cacheSeconds: 0 })
    const attempt = createAttemptDelivery({
      signer,
      issuer: 'https://gw.example.com',
      fetchPolicy: { allowInsecure: true },
      now: () => t,
    })
    const audit = createAuditRecorder(over.audit, pino({ level: 'silent' }), () => t)
    const drainer = createRelayDrainer({
      outbox: over.outbox,
      apps: over.apps,
      attempt,
      planRetry: (d, r, now) => planRetry(d, r, now, () => 0.5),
      audit,
      metrics: createMetrics(),
      logger: pino({ level: 'silent' }),
      now: () => t,
      pollMs: 60_000,
    })
    return { drainer, audit }
  }
  const relayApp = (relays: AppRecord['relays'], relaySecrets?: AppRecord['relaySecrets']): AppRecord => ({
    kind: 'oidc',
    name: 'wiki',
    issuer: 'https://id.example.com',
    clientId: 'wiki',
    jwksUri: 'https://id.example.com/jwks',
    relays,
    ...(relaySecrets ? { relaySecrets } : {}),
    apiKeyHash: 'b'.repeat(64),
    createdAt: t,
    updatedAt: t,
  })
  const relayedLogout = (over: BackchannelStore, mode: 'sign' | 'hmac') =>
    over.revoke({
      app: 'wiki',
      iss: 'https://id.example.com',
      sub: 'alice',
      scope: 'session',
      issuedAt: t,
      relay: { relays: [{ url: receiver.url, mode, clientId: 'rx' }] },
    })

  it('sign: spends no attempt, backs off on the schedule past 8 tries, and delivers once the key opens', async () => {
    const sealing = await open(sealedKey)
    await sealing.keys.ensure() // the gateway's signing key, sealed under sealedKey
    await sealing.close()

    const wrong = await open(otherKey)
    await wrong.apps.create(relayApp([{ url: receiver.url, mode: 'sign', clientId: 'rx' }]))
    await relayedLogout(wrong, 'sign')
    const { drainer, audit } = drainOver(wrong)
    const waits: number[] = []
    for (let i = 1; i <= 9; i++) {
      const before = t
      await drainer.wake()
      const [row] = await wrong.outbox.list()
      expect(row).toMatchObject({ state: 'pending', attempts: 0, unsentTries: i })
      expect(row?.lastError).toMatch(/^the token could not be minted: a stored secret cannot be decrypted/)
      waits.push((row?.nextAttemptAt ?? 0) - before)
      t = row?.nextAttemptAt ?? t
    }
    // The design's backoff, though no attempt was spent: 9 tries, more than the 8 attempts allowed.
    expect(waits).toEqual([...RETRY_SCHEDULE, 21_600, 21_600])
    expect(receiver.received).toHaveLength(0)
    await drainer.close()
    await audit.close()
    const records = await wrong.audit.list({ app: 'wiki' })
    expect(records).toHaveLength(9)
    for (const record of records) {
      expect(record).toMatchObject({ source: 'relay', outcome: 'retry', attempts: 0, code: NOT_SENT })
      expect(record.status).toBeUndefined()
    }
    await wrong.close()

    // Restarted with the right master key: the first real attempt delivers it.
    const right = await open(sealedKey)
    const again = drainOver(right)
    await again.drainer.wake()
    await again.drainer.close()
    await again.audit.close()
    expect(receiver.received).toHaveLength(1)
    const [row] = await right.outbox.list()
    expect(row).toMatchObject({ state: 'delivered', attempts: 1, lastStatus: 204 })
    expect(row?.unsentTries).toBeUndefined()
    await right.close()
  })

  it('hmac: a relay secret that cannot be unsealed is retried later, audited as not sent', async () => {
    const sealing = await open(sealedKey)
    await sealing.apps.create(relayApp([{ url: receiver.url, mode: 'hmac' }], { [receiver.url]: 'bcs_sealed' }))
    await sealing.close()

    const wrong = await open(otherKey)
    await relayedLogout(wrong, 'hmac')
    const { drainer, audit } = drainOver(wrong)
    await drainer.wake()
    await drainer.close()
    await audit.close()
    const [row] = await wrong.outbox.list()
    expect(row).toMatchObject({ state: 'pending', attempts: 0, unsentTries: 1, nextAttemptAt: t + 1 })
    expect(row?.lastError).toMatch(/^the application could not be read: a stored secret cannot be decrypted/)
    expect(await wrong.audit.list({ app: 'wiki' })).toEqual([
      expect.objectContaining({ source: 'relay', outcome: 'retry', attempts: 0, code: NOT_SENT }),
    ])
    expect(receiver.received).toHaveLength(0)
    await wrong.close()
  })

  it('gives up a row never sent once it is 24 h old: dead, audited as not sent, no attempt spent', async () => {
    const sealing = await open(sealedKey)
    await sealing.apps.create(relayApp([{ url: receiver.url, mode: 'hmac' }], { [receiver.url]: 'bcs_sealed' }))
    await sealing.close()

    const wrong = await open(otherKey)
    const createdAt = t
    await relayedLogout(wrong, 'hmac')
    const { drainer, audit } = drainOver(wrong)
    await drainer.wake()
    expect((await wrong.outbox.list())[0]).toMatchObject({ state: 'pending', unsentTries: 1 })
    // Due again a little before the 24 h: the next try would fall past them.
    t = createdAt + MAX_AGE_SECONDS - 1
    await drainer.wake()
    await drainer.close()
    await audit.close()
    const [row] = await wrong.outbox.list()
    expect(row).toMatchObject({ state: 'dead', attempts: 0, unsentTries: 2 })
    expect((await wrong.audit.list({ app: 'wiki' }))[0]).toMatchObject({
      source: 'relay',
      outcome: 'dead',
      attempts: 0,
      code: NOT_SENT,
    })
    expect(receiver.received).toHaveLength(0)
    await wrong.close()
  })
})
