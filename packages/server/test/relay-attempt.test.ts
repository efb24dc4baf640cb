/**
 * One relay delivery attempt against real receivers on loopback: a second Backchannel that trusts
 * the first as an issuer (`sign`, discovered through its /.well-known), the same receiver with an
 * HMAC application (`hmac`, `forward`), and a plain HTTP server for each way an answer is
 * classified. Then planRetry's schedule, table by table.
 */
import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mintLogoutToken } from '@backchannel/core/mint'
import type { RelayAttemptResult, RelayDelivery } from '@backchannel/unstorage'
import { decodeJwt } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createAttemptDelivery, MAX_AGE_SECONDS, planRetry, RETRY_SCHEDULE } from '../src/relay/attempt.js'
import { type LoopbackGateway, startLoopbackGateway } from './fixtures/loopback-gateway.js'
import { startRelayReceiver } from './fixtures/relay-receiver.js'

let gw: LoopbackGateway
/** The receiver: another Backchannel. */
let rx: LoopbackGateway
let hmacSecret: string
let attempt: ReturnType<typeof createAttemptDelivery>

const now = () => Date.now() / 1000

beforeAll(async () => {
  ;[gw, rx] = await Promise.all([startLoopbackGateway(), startLoopbackGateway()])
  // The receiver registers the gateway by its public URL: discovery runs through /.well-known.
  await rx.admin.apps.create.mutate({
    name: 'via-gateway',
    issuer: gw.url,
    clientId: 'relay-client',
    algorithms: ['ES256'],
  })
  hmacSecret = (await rx.admin.apps.create.mutate({ name: 'hmac-rx' })).secret as string
  attempt = createAttemptDelivery({
    signer: gw.gateway.signer,
    issuer: gw.url,
    fetchPolicy: { allowInsecure: true },
    now,
  })
})
afterAll(async () => {
  await Promise.all([gw?.close(), rx?.close()])
})

let sequence = 0
const delivery = (fields: Partial<RelayDelivery> & Pick<RelayDelivery, 'url' | 'mode'>): RelayDelivery => ({
  id: `d${++sequence}`,
  app: 'wiki',
  state: 'pending',
  attempts: 0,
  createdAt: now(),
  logout: { iss: 'https://id.example.com', sub: 'alice' },
  ...fields,
})
const state = async (app: string, sessionId: string) => (await rx.admin.sessions.status.query({ app, sessionId })).state

it('sign and hmac: each attempt mints a fresh token (new jti, iat), one receiver recording them', async () => {
  const receiver = await startRelayReceiver()
  let t = 1_800_000_000
  const manual = createAttemptDelivery({
    signer: gw.gateway.signer,
    issuer: gw.url,
    fetchPolicy: { allowInsecure: true },
    now: () => t,
  })
  try {
    const signed = delivery({ url: receiver.url, mode: 'sign', clientId: 'relay-client' })
    const hmac = delivery({ url: receiver.url, mode: 'hmac' })
    for (const [d, secret] of [
      [signed, undefined],
      [hmac, 'bcs_relay-secret'],
    ] as const) {
      for (let i = 0; i < 2; i++) {
        expect(await manual(d, secret)).toEqual({ outcome: 'delivered', status: 200 })
        t += 5
      }
    }
    const claims = receiver.received.map((r) => decodeJwt(r.token))
    expect(claims).toHaveLength(4)
    for (const [first, second] of [claims.slice(0, 2), claims.slice(2)]) {
      expect(second?.jti).not.toBe(first?.jti)
      expect(second?.iat).toBe((first?.iat as number) + 5)
    }
  } finally {
    await receiver.close()
  }
})

describe('an attempt against another Backchannel', () => {
  it('sign: a token the receiver verifies against the gateway’s JWKS, aud = clientId; the session ends', async () => {
    await rx.admin.sessions.register.mutate({ app: 'via-gateway', sessionId: 'sign-1', sub: 'alice', sid: 'sid-1' })
    await rx.admin.sessions.register.mutate({ app: 'via-gateway', sessionId: 'sign-2', sub: 'alice', sid: 'sid-2' })
    const url = `${rx.url}/auth/logout/via-gateway`
    const result = await attempt(
      delivery({ url, mode: 'sign', clientId: 'relay-client', logout: { iss: 'x', sub: 'alice', sid: 'sid-1' } }),
    )
    expect(result).toEqual({ outcome: 'delivered', status: 200 })
    expect([await state('via-gateway', 'sign-1'), await state('via-gateway', 'sign-2')]).toEqual(['revoked', 'active'])
  })

  it('sign: another audience is refused by the receiver (400), which is dead at once', async () => {
    const url = `${rx.url}/auth/logout/via-gateway`
    const result = await attempt(delivery({ url, mode: 'sign', clientId: 'someone-else' }))
    expect(result).toEqual({ outcome: 'dead', status: 400, error: 'the relay answered 400' })
    expect(await attempt(delivery({ url, mode: 'sign' }))).toMatchObject({ outcome: 'dead', error: /needs a clientId/ })
  })

  it('hmac: HS256 with the relay’s secret; another secret is refused', async () => {
    await rx.admin.sessions.register.mutate({ app: 'hmac-rx', sessionId: 'h-1', sub: 'bob' })
    const url = `${rx.url}/auth/logout/hmac-rx`
    const bob = { iss: 'x', sub: 'bob' }
    expect(await attempt(delivery({ url, mode: 'hmac', logout: bob }), `${hmacSecret}x`)).toMatchObject({
      outcome: 'dead',
      status: 400,
    })
    expect(await state('hmac-rx', 'h-1')).toBe('active')
    expect(await attempt(delivery({ url, mode: 'hmac', logout: bob }), hmacSecret)).toEqual({
      outcome: 'delivered',
      status: 200,
    })
    expect(await state('hmac-rx', 'h-1')).toBe('revoked')
  })

  it('forward: the identity provider’s token as it came, until it expires', async () => {
    await rx.admin.sessions.register.mutate({ app: 'hmac-rx', sessionId: 'f-1', sub: 'carol' })
    await rx.admin.sessions.register.mutate({ app: 'hmac-rx', sessionId: 'f-2', sub: 'dave' })
    const url = `${rx.url}/auth/logout/hmac-rx`
    const expired = await mintLogoutToken({ secret: hmacSecret, sub: 'dave' })
    expect(
      await attempt(delivery({ url, mode: 'forward', logout: { iss: 'x', token: expired, expiresAt: now() - 1 } })),
    ).toMatchObject({ outcome: 'dead', error: /expired/ })
    expect(await state('hmac-rx', 'f-2')).toBe('active')
    const token = await mintLogoutToken({ secret: hmacSecret, sub: 'carol' })
    const result = await attempt(
      delivery({ url, mode: 'forward', logout: { iss: 'x', token, expiresAt: now() + 120 } }),
    )
    expect(result).toEqual({ outcome: 'delivered', status: 200 })
    expect(await state('hmac-rx', 'f-1')).toBe('revoked')
  })
})

/** A plain receiver: answers each request with `answer`, and records what it got. */
async function receiver(answer: (req: IncomingMessage, res: ServerResponse) => void) {
  const got: { method?: string; url?: string; type?: string; body: string }[] = []
  let connections = 0
  const server: Server = createServer((req, res) => {
    let body = ''
    req.on('data', (c) => (body += c))
    req.on('end', () => {
      got.push({ method: req.method, url: req.url, type: req.headers['content-type'], body })
      answer(req, res)
    })
  })
  server.on('connection', () => connections++)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const port = (server.address() as AddressInfo).port
  return {
    port,
    url: `http://127.0.0.1:${port}/logout`,
    got,
    connections: () => connections,
    async close() {
      server.closeAllConnections()
      server.close()
      await once(server, 'close')
    },
  }
}

const answering =
  (status: number, headers: Record<string, string> = {}) =>
  (_req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(status, headers).end()
  }

describe('how an answer is classified', () => {
  const forwardTo = (url: string) => delivery({ url, mode: 'forward', logout: { iss: 'x', token: 'a.b.c' } })

  it.each([
    [204, {}, { outcome: 'delivered', status: 204 }],
    [503, {}, { outcome: 'retry', status: 503, error: 'the relay answered 503' }],
    [500, { 'retry-after': '7' }, { outcome: 'retry', status: 500, error: 'the relay answered 500', retryAfter: 7 }],
    [429, { 'retry-after': '2' }, { outcome: 'retry', status: 429, error: 'the relay answered 429', retryAfter: 2 }],
    [429, { 'retry-after': 'soon' }, { outcome: 'retry', status: 429, error: 'the relay answered 429' }],
    [400, {}, { outcome: 'dead', status: 400, error: 'the relay answered 400' }],
    [404, { 'retry-after': '2' }, { outcome: 'dead', status: 404, error: 'the relay answered 404' }],
  ] as [number, Record<string, string>, RelayAttemptResult][])('%i %o → %o', async (status, headers, expected) => {
    const rcv = await receiver(answering(status, headers))
    try {
      expect(await attempt(forwardTo(rcv.url))).toEqual(expected)
      expect(rcv.got).toEqual([
        { method: 'POST', url: '/logout', type: 'application/x-www-form-urlencoded', body: 'logout_token=a.b.c' },
      ])
    } finally {
      await rcv.close()
    }
  })

  it('reads a Retry-After given as an HTTP date', async () => {
    const rcv = await receiver(answering(429, { 'retry-after': new Date(Date.now() + 30_000).toUTCString() }))
    try {
      const result = await attempt(forwardTo(rcv.url))
      expect(result).toMatchObject({ outcome: 'retry', status: 429 })
      const { retryAfter } = result as { retryAfter: number }
      expect(retryAfter).toBeGreaterThanOrEqual(28)
      expect(retryAfter).toBeLessThanOrEqual(31)
    } finally {
      await rcv.close()
    }
  })

  it('does not follow a redirect: dead, and its target is never asked', async () => {
    const target = await receiver(answering(200))
    const rcv = await receiver(answering(307, { location: target.url }))
    try {
      expect(await attempt(forwardTo(rcv.url))).toMatchObject({ outcome: 'dead', error: /redirect/ })
      expect(target.connections()).toBe(0)
    } finally {
      await Promise.all([rcv.close(), target.close()])
    }
  })

  it('retries a relay that never answers, after 5 s', async () => {
    const rcv = await receiver(() => {})
    try {
      expect(await attempt(forwardTo(rcv.url))).toMatchObject({ outcome: 'retry', error: /did not answer within 5 s/ })
      expect(rcv.got).toHaveLength(1)
    } finally {
      await rcv.close()
    }
  })

  it('retries a relay that refuses connections', async () => {
    const rcv = await receiver(answering(200))
    await rcv.close()
    const result = await attempt(forwardTo(rcv.url))
    expect(result).toMatchObject({ outcome: 'retry', error: /could not be reached/ })
    expect(result).not.toHaveProperty('status')
  })

  it('without the insecure flag, refuses http: and private addresses before connecting: dead', async () => {
    const strict = createAttemptDelivery({
      signer: gw.gateway.signer,
      issuer: gw.url,
      fetchPolicy: { allowInsecure: false },
      now,
    })
    const rcv = await receiver(answering(200))
    try {
      expect(await strict(forwardTo(`https://127.0.0.1:${rcv.port}/logout`))).toMatchObject({
        outcome: 'dead',
        error: /not a public address/,
      })
      expect(await strict(forwardTo(rcv.url))).toMatchObject({ outcome: 'dead', error: /is not https:/ })
      expect(await strict(forwardTo('https://relay.invalid/logout'))).toMatchObject({ outcome: 'retry' })
      expect(rcv.connections()).toBe(0)
    } finally {
      await rcv.close()
    }
  })
})

describe('planRetry', () => {
  const t = 1_800_000_000
  const failed: RelayAttemptResult = { outcome: 'retry', status: 503, error: 'the relay answered 503' }
  const at = (attempts: number, mode: RelayDelivery['mode'] = 'sign', logout: Partial<RelayDelivery['logout']> = {}) =>
    delivery({
      url: 'https://relay.example/x',
      mode,
      attempts,
      createdAt: t,
      logout: { iss: 'x', sub: 'a', ...logout },
    })
  const waitOf = (plan: ReturnType<typeof planRetry>) => (plan.state === 'pending' ? plan.nextAttemptAt - t : undefined)

  it.each(RETRY_SCHEDULE.map((step, i) => [i + 1, step]))('after attempt %i waits %i s ±25 %', (attempts, step) => {
    expect(waitOf(planRetry(at(attempts), failed, t, () => 0.5))).toBe(step)
    expect(waitOf(planRetry(at(attempts), failed, t, () => 0))).toBe(step * 0.75)
    const highest = waitOf(planRetry(at(attempts), failed, t, () => 0.999_999)) as number
    expect(highest).toBeLessThanOrEqual(step * 1.25)
    expect(highest).toBeGreaterThan(step * 1.2499)
    for (let i = 0; i < 50; i++) {
      const wait = waitOf(planRetry(at(attempts), failed, t)) as number
      expect(wait).toBeGreaterThanOrEqual(step * 0.75)
      expect(wait).toBeLessThanOrEqual(step * 1.25)
    }
  })

  it('gives up a sign or hmac delivery after 8 attempts', () => {
    expect(planRetry(at(7, 'hmac'), failed, t + 30_000, () => 0.5)).toEqual({
      state: 'pending',
      nextAttemptAt: t + 30_000 + 21_600,
    })
    expect(planRetry(at(8, 'hmac'), failed, t + 30_000, () => 0.5)).toEqual({ state: 'dead' })
    expect(planRetry(at(8, 'sign'), failed, t + 30_000, () => 0.5)).toEqual({ state: 'dead' })
  })

  it('backs off tries that sent nothing (mint failures) as attempts, without counting them toward the 8', () => {
    const unsent: RelayAttemptResult = { ...failed, sent: false }
    expect(waitOf(planRetry({ ...at(0), unsentTries: 3 }, unsent, t, () => 0.5))).toBe(RETRY_SCHEDULE[2])
    expect(waitOf(planRetry({ ...at(2), unsentTries: 1 }, unsent, t, () => 0.5))).toBe(RETRY_SCHEDULE[2])
    expect(planRetry({ ...at(7), unsentTries: 5 }, unsent, t + 30_000, () => 0.5)).toEqual({
      state: 'pending',
      nextAttemptAt: t + 30_000 + 21_600,
    })
  })

  it('gives up once the next attempt would be more than 24 h after the delivery was made', () => {
    const late = t + MAX_AGE_SECONDS - 3600
    expect(planRetry(at(6), failed, late, () => 0.5)).toEqual({ state: 'pending', nextAttemptAt: late + 3600 })
    expect(planRetry(at(6), failed, late + 1, () => 0.5)).toEqual({ state: 'dead' })
  })

  it('honours Retry-After when it is longer than the schedule, never when shorter', () => {
    expect(waitOf(planRetry(at(1), { ...failed, retryAfter: 2 }, t, () => 0.5))).toBe(2)
    expect(waitOf(planRetry(at(3), { ...failed, retryAfter: 2 }, t, () => 0.5))).toBe(30)
    expect(planRetry(at(1), { ...failed, retryAfter: MAX_AGE_SECONDS + 1 }, t, () => 0.5)).toEqual({ state: 'dead' })
  })

  it('retries a forward delivery, past 8 attempts, until its token would have expired', () => {
    const expiresAt = t + 700
    expect(planRetry(at(4, 'forward', { expiresAt }), failed, t, () => 0.5)).toEqual({
      state: 'pending',
      nextAttemptAt: t + 120,
    })
    // The next attempt would come when the token expires: no use sending it.
    expect(planRetry(at(5, 'forward', { expiresAt }), failed, t + 100, () => 0.5)).toEqual({ state: 'dead' })
    expect(planRetry(at(12, 'forward', { expiresAt }), failed, t, () => 0.5)).toEqual({ state: 'dead' })
    expect(planRetry(at(12, 'forward', { expiresAt: t + 30_000 }), failed, t, () => 0.5)).toEqual({
      state: 'pending',
      nextAttemptAt: t + 21_600,
    })
    // A token without exp falls back to the 8 attempts.
    expect(planRetry(at(8, 'forward'), failed, t, () => 0.5)).toEqual({ state: 'dead' })
  })

  it('makes a dead result dead now, and refuses to plan after a delivery', () => {
    expect(planRetry(at(1), { outcome: 'dead', status: 400, error: 'the relay answered 400' }, t)).toEqual({
      state: 'dead',
    })
    expect(() => planRetry(at(1), { outcome: 'delivered', status: 200 }, t)).toThrow(TypeError)
  })
})
