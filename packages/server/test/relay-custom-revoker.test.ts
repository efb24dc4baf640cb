/**
 * A custom `RelayOutboxRevoker` passed as `createGateway({ sessions })` (core's memory reference
 * here) keeps the deliveries in its own outbox: the gateway's drainer delivers them from there to
 * a receiver on 127.0.0.1, and `relays.list` shows them, while the gateway's store holds none.
 */
import { mintLogoutToken } from '@backchannel/core/mint'
import { createMemoryRelayStore } from '@backchannel/core/testing'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { type LoopbackGateway, startLoopbackGateway } from './fixtures/loopback-gateway.js'
import { quickRetry } from './fixtures/quick-retry.js'
import { type RelayReceiver, startRelayReceiver } from './fixtures/relay-receiver.js'

const sessions = createMemoryRelayStore()
let gw: LoopbackGateway
let receiver: RelayReceiver

beforeAll(async () => {
  ;[gw, receiver] = await Promise.all([
    startLoopbackGateway({ sessions, relays: { planRetry: quickRetry, pollMs: 50 } }),
    startRelayReceiver(),
  ])
})
afterAll(async () => {
  await Promise.all([gw?.close(), receiver?.close()])
})

it("drains the custom revoker's own outbox, and relays.list reads it", async () => {
  const created = await gw.admin.apps.create.mutate({
    name: 'wiki',
    relays: [{ url: receiver.url, mode: 'sign', clientId: 'rx' }],
  })
  const token = await mintLogoutToken({ secret: created.secret as string, sub: 'alice' })
  const res = await fetch(`${gw.url}/auth/logout/wiki`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ logout_token: token }),
  })
  expect(res.status).toBe(200)

  await expect.poll(() => receiver.received.length, { timeout: 10_000 }).toBe(1)
  await expect.poll(async () => (await sessions.outbox.list())[0]?.state, { timeout: 10_000 }).toBe('delivered')
  expect(await gw.admin.relays.list.query({ app: 'wiki' })).toEqual([
    expect.objectContaining({ app: 'wiki', url: receiver.url, mode: 'sign', state: 'delivered', attempts: 1 }),
  ])
  expect(await gw.store.outbox.list()).toEqual([])
})
