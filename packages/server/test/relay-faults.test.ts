/**
 * Relay faults end to end, through a served gateway's outbox and drainer with the real retry
 * schedule (planRetry) and the real clock: a 429 with Retry-After, a redirect, a relay URL the
 * address policy refuses. relays.test.ts covers 503s, 400s and kills; relay-attempt.test.ts each
 * kind of answer (a timeout included) at the attempt level.
 */
import { mintLogoutToken } from '@backchannel/core/mint'
import { afterEach, describe, expect, it } from 'vitest'
import { type LoopbackGateway, startLoopbackGateway } from './fixtures/loopback-gateway.js'
import { type RelayReceiver, startRelayReceiver } from './fixtures/relay-receiver.js'

const closers: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close()
})

async function gateway(options: Parameters<typeof startLoopbackGateway>[0] = { relays: { pollMs: 50 } }) {
  const gw = await startLoopbackGateway(options)
  closers.push(gw.close)
  return gw
}
async function receiver(...args: Parameters<typeof startRelayReceiver>) {
  const rx = await startRelayReceiver(...args)
  closers.push(rx.close)
  return rx
}

/** Creates HMAC app `name` on `gw` forwarding to `url`, and POSTs it one logout. */
async function logoutRelayedTo(gw: LoopbackGateway, name: string, url: string) {
  const { secret } = await gw.admin.apps.create.mutate({ name, relays: [{ url, mode: 'forward' }] })
  const token = await mintLogoutToken({ secret: secret as string, sub: 'alice' })
  const res = await fetch(`${gw.url}/auth/logout/${name}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ logout_token: token }),
  })
  expect(res.status).toBe(200)
}

describe('relay faults through the drainer', () => {
  it('honours 429 with Retry-After: 2 (longer than the first step of the schedule)', async () => {
    const gw = await gateway()
    let answered = 0
    const rx = await receiver(async () =>
      answered++ === 0 ? { status: 429, headers: { 'retry-after': '2' } } : { status: 200 },
    )
    await logoutRelayedTo(gw, 'wiki', rx.url)

    const [waiting] = await waitFor(gw, 'wiki', (d) => d.attempts === 1)
    expect(waiting).toMatchObject({ state: 'pending', lastStatus: 429, lastError: 'the relay answered 429' })
    // The stored row (relays.list answers whole seconds). Without Retry-After the schedule would
    // try again after 1 s ± 25 %.
    const [row] = await gw.store.outbox.list({ app: 'wiki' })
    expect(row?.nextAttemptAt).toBeGreaterThanOrEqual((rx.received[0]?.at as number) / 1000 + 2)

    const [delivered] = await waitFor(gw, 'wiki', (d) => d.state === 'delivered')
    expect(delivered).toMatchObject({ attempts: 2, lastStatus: 200 })
    expect(rx.received).toHaveLength(2)
    expect((rx.received[1]?.at as number) - (rx.received[0]?.at as number)).toBeGreaterThanOrEqual(2000)
  })

  it('kills a delivery answered with a redirect without following it; /readyz stays 200', async () => {
    const gw = await gateway()
    const target = await receiver()
    const rx = await receiver(async () => ({ status: 307, headers: { location: target.url } }))
    await logoutRelayedTo(gw, 'wiki', rx.url)

    const [dead] = await waitFor(gw, 'wiki', (d) => d.state === 'dead')
    expect(dead).toMatchObject({
      attempts: 1,
      lastError: expect.stringMatching(/redirect \(307\); redirects are not followed/),
    })
    expect(rx.received).toHaveLength(1)
    expect(target.connections()).toBe(0)
    // A dead relay is the receiver's problem, never the gateway's readiness.
    const ready = await fetch(`${gw.url}/readyz`)
    expect(ready.status).toBe(200)
    const metrics = await gw.gateway.metrics.registry.getSingleMetricAsString('backchannel_relay_deliveries_total')
    expect(metrics).toContain('backchannel_relay_deliveries_total{app="wiki",outcome="dead"} 1')
  })
})

describe('a relay URL the address policy refuses', () => {
  it('is refused at apps.update, naming the rule, without connecting, when insecure targets are not allowed', async () => {
    const gw = await gateway({ fetchPolicy: {} })
    const listening: RelayReceiver = await receiver()
    const port = new URL(listening.url).port
    await gw.admin.apps.create.mutate({ name: 'wiki' })
    const update = (url: string) =>
      gw.admin.apps.update.mutate({ name: 'wiki', relays: [{ url, mode: 'forward' }] }).then(
        () => undefined,
        (err: { message: string; data?: { backchannelCode?: string } }) => [err.data?.backchannelCode, err.message],
      )

    expect(await update('https://10.255.255.1/bcl')).toEqual([
      'ERR_ISSUER_ADDRESS_FORBIDDEN',
      'relay https://10.255.255.1/bcl is not at a public address (trust the host to allow it)',
    ])
    // A receiver really listening on loopback is not contacted either way.
    expect(await update(`https://127.0.0.1:${port}/bcl`)).toEqual([
      'ERR_ISSUER_ADDRESS_FORBIDDEN',
      expect.stringMatching(/is not at a public address/),
    ])
    expect(await update(listening.url)).toEqual(['ERR_ISSUER_INSECURE', expect.stringMatching(/must be https:/)])
    expect(listening.connections()).toBe(0)
    expect((await gw.admin.apps.get.query({ name: 'wiki' })).relays).toBeUndefined()
  })
})

type Delivery = Awaited<ReturnType<LoopbackGateway['admin']['relays']['list']['query']>>[number]

/** Polls `relays.list` for `app` until its one delivery satisfies `done`. */
async function waitFor(gw: LoopbackGateway, app: string, done: (d: Delivery) => boolean) {
  await expect
    .poll(async () => (await gw.admin.relays.list.query({ app })).filter(done).length, { timeout: 10_000 })
    .toBe(1)
  return gw.admin.relays.list.query({ app })
}
