/** The relay drainer over a real memory store, with a manual clock and attempts it is handed. */
import type { AppRecord, RelayAttemptResult, RelayDelivery } from '@backchannel/unstorage'
import { memoryStore } from '@backchannel/unstorage/memory'
import pino from 'pino'
import { afterEach, beforeEach, expect, it } from 'vitest'
import { createAuditRecorder } from '../src/audit.js'
import { createMetrics } from '../src/metrics.js'
import type { AttemptDelivery, PlanRetry } from '../src/relay/attempt.js'
import { createRelayDrainer } from '../src/relay/drainer.js'

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
