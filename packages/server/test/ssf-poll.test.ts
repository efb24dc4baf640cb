/**
 * The Shared Signals receiver's poll delivery (RFC 8936) and stream management (SSF 1.0 §8.1),
 * over real sockets: the fixture transmitter on 127.0.0.1 serves a configuration endpoint, a
 * verification endpoint and a poll endpoint; gateways on 127.0.0.1 connect, verify and poll.
 */
import { randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { MAX_SET_BYTES, type SessionStore } from '@backchannel/core'
import { createGuardedFetch } from '@backchannel/core/discovery'
import type { BackchannelStore } from '@backchannel/unstorage'
import { memoryStore } from '@backchannel/unstorage/memory'
import { redisStore } from '@backchannel/unstorage/redis'
import { describe, expect, inject, it, vi } from 'vitest'
import { adminCommands } from '../src/cli/admin.js'
import { parseFlags, readSecrets } from '../src/cli/flags.js'
import { type Command, renderHelp, resolveCommand } from '../src/cli/help.js'
import { pollTransmitter } from '../src/ssf/poll-request.js'
import { pollBackoff, type StreamPollingOptions } from '../src/ssf/poller.js'
import {
  AUDIENCE,
  CAEP,
  closers,
  MANAGEMENT_TOKEN,
  POLL_TOKEN,
  sessionRevoked,
  sessionsDownWhile,
  setUp,
  sign,
  startGateway,
  startTransmitter,
  stranger,
} from './fixtures/ssf-transmitter.js'

const SSF = 'https://schemas.openid.net/secevent/ssf/event-type/'
/** Quick polling for tests: short terms (so a renewal happens within a test), short waits. */
const POLLING: StreamPollingOptions = { checkMs: 100, idleSeconds: 0.05, leaseSeconds: 3, backoff: () => 0.2 }
/** `expect.poll` with room for a loaded machine: each poll of the gateway is a few round trips. */
const eventually = <T>(value: () => T | Promise<T>) => expect.poll(value, { timeout: 10_000 })
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** A transmitter and a gateway over `store` with an app `wiki` and a poll stream `idp` (its poll endpoint given by hand). */
async function pollSetUp(
  options: {
    store?: BackchannelStore
    sessions?: (store: BackchannelStore) => SessionStore
    polling?: StreamPollingOptions
  } = {},
) {
  const transmitter = await startTransmitter()
  const store = options.store ?? memoryStore()
  closers.push(() => store.close())
  const sessions = options.sessions?.(store)
  const { admin, gateway } = await startGateway(store, {
    polling: options.polling ?? POLLING,
    ...(sessions ? { sessions } : {}),
  })
  const iss = transmitter.issuer
  await admin.apps.create.mutate({ name: 'wiki', policy: { issuer: iss } })
  const created = await admin.streams.create.mutate({
    name: 'idp',
    issuer: iss,
    apps: ['wiki'],
    delivery: 'poll',
    pollToken: POLL_TOKEN,
    pollEndpointUrl: `${iss}/poll`,
  })
  const now = Math.floor(Date.now() / 1000)
  const register = (sessionId: string, sub: string) =>
    store.register({ app: 'wiki', iss, sessionId, sub, sid: `sid-${sessionId}`, authTime: now - 600 })
  const state = async (sessionId: string) => (await store.status('wiki', sessionId)).state
  return { transmitter, store, admin, gateway, iss, created, register, state, management: transmitter.management }
}

const revokedAlice = (iss: string) => sign(iss, sessionRevoked({ format: 'opaque', id: 'alice' }))

describe('streams.create with delivery "poll"', () => {
  it('keeps the poll token sealed and never shows it, and answers no push header', async () => {
    const { created, admin, store } = await pollSetUp({ polling: undefined })
    expect(created).toEqual({ stream: expect.objectContaining({ name: 'idp', delivery: 'poll' }) })
    const shown = JSON.stringify([
      created,
      await admin.streams.get.query({ name: 'idp' }),
      await admin.streams.list.query(),
    ])
    expect(shown).not.toContain(POLL_TOKEN)
    expect(shown).not.toContain('pollToken')
    // The store hands it to the poller decrypted, and keeps it sealed: an export shows no trace of it.
    expect((await store.streams.get('idp'))?.pollToken).toBe(POLL_TOKEN)
    const lines: string[] = []
    await store.exportState((line) => lines.push(line))
    expect(lines.join('\n')).toContain('stream:')
    expect(lines.join('\n')).not.toContain(POLL_TOKEN)
    const records = (await admin.audit.list.query({})).filter((r) => r.stream === 'idp')
    const create = records.find((r: { action?: string }) => r.action === 'streams.create')
    expect(create?.fields).toEqual(expect.arrayContaining(['pollToken', 'pollEndpointUrl', 'delivery']))
    expect(JSON.stringify(records)).not.toContain(POLL_TOKEN)
  })

  it('is refused when the transmitter does not list RFC 8936, or without a pollToken', async () => {
    const transmitter = await startTransmitter()
    transmitter.management.methods = ['urn:ietf:rfc:8935']
    const store = memoryStore()
    closers.push(() => store.close())
    const { admin } = await startGateway(store)
    await admin.apps.create.mutate({ name: 'wiki' })
    const input = { name: 'idp', issuer: transmitter.issuer, apps: ['wiki'], delivery: 'poll' as const }
    await expect(admin.streams.create.mutate({ ...input, pollToken: POLL_TOKEN })).rejects.toThrow(/urn:ietf:rfc:8936/)
    await expect(admin.streams.create.mutate(input)).rejects.toThrow(/pollToken: required/)
    expect(await admin.streams.list.query()).toEqual([])
  })

  it('refuses a private or insecure poll endpoint by its rule, before anything connects', async () => {
    const store = memoryStore()
    closers.push(() => store.close())
    const { admin } = await startGateway(store, { insecure: false })
    await admin.apps.create.mutate({ name: 'wiki' })
    const input = { issuer: 'https://ssf.invalid', apps: ['wiki'], delivery: 'poll' as const, pollToken: POLL_TOKEN }
    await expect(
      admin.streams.create.mutate({ ...input, name: 'a', pollEndpointUrl: 'http://ssf.invalid/poll' }),
    ).rejects.toMatchObject({ data: { backchannelCode: 'ERR_ISSUER_INSECURE' }, message: /pollEndpointUrl/ })
    await expect(
      admin.streams.create.mutate({ ...input, name: 'b', pollEndpointUrl: 'https://10.255.255.1/poll' }),
    ).rejects.toMatchObject({ data: { backchannelCode: 'ERR_ISSUER_ADDRESS_FORBIDDEN' }, message: /pollEndpointUrl/ })
    expect(await admin.streams.list.query()).toEqual([])
  })
})

describe('poll delivery', () => {
  it('end to end: a session revoked, its ack seen by the transmitter, a bad SET in setErrs with its err, a redelivered one acked again and acted on once', async () => {
    const { iss, register, state, management, admin } = await pollSetUp({ polling: { ...POLLING, maxEvents: 2 } })
    await register('s1', 'alice')
    const token = await revokedAlice(iss)
    const jti = management.enqueue(token)
    await eventually(() => state('s1')).toBe('revoked')
    await eventually(() => management.acked()).toContain(jti)

    const bad = management.enqueue(
      await sign('https://other.example.test', sessionRevoked({ format: 'opaque', id: 'bob' })),
    )
    const forged = management.enqueue(
      await sign(iss, sessionRevoked({ format: 'opaque', id: 'bob' }), {}, {}, stranger.privateKey),
    )
    // Over the push route's 64 KiB cap: refused the same way when polled.
    const huge = management.enqueue(
      await sign(iss, sessionRevoked({ format: 'opaque', id: 'bob' }), { padding: 'x'.repeat(MAX_SET_BYTES) }),
    )
    // Not a SET at all: refused too, or the transmitter would send it forever.
    const notString = management.enqueueValue('not-a-set', { alg: 'none' })
    await eventually(() => management.setErrs()).toMatchObject({
      [bad]: { err: 'invalid_issuer', description: expect.any(String) },
      [forged]: { err: 'authentication_failed' },
      [huge]: { err: 'invalid_request', description: expect.stringMatching(/larger than 65536 bytes/) },
      [notString]: { err: 'invalid_request', description: 'the SET is not a string' },
    })

    // The transmitter sends the first SET again, as after a lost acknowledgement.
    management.enqueue(token)
    await eventually(() => management.acked().filter((j) => j === jti).length).toBe(2)
    // Refused SETs are the gateway's records (no application yet), the others the application's.
    const outcomes = (await admin.audit.list.query({}))
      .filter((r: { source: string; stream?: string }) => r.source === 'ssf' && r.stream === 'idp')
      .map((r: { outcome: string }) => r.outcome)
    expect(outcomes.filter((o: string) => o === 'revoked')).toHaveLength(1)
    expect(outcomes).toContain('replayed')
    expect(outcomes).toContain('rejected')

    // Three SETs at once arrive two by two: the gateway asks for maxEvents and holds the poll open.
    const many = await Promise.all([1, 2, 3].map(() => revokedAlice(iss)))
    const jtis = many.map((t) => management.enqueue(t))
    await eventually(() => management.acked()).toEqual(expect.arrayContaining(jtis))
    expect(management.polls.every((p) => p.maxEvents === 2 && p.returnImmediately === false)).toBe(true)
    expect(management.queued()).toEqual([])
  })

  it("names only the poll endpoint's origin when it refuses (its path may carry a secret)", async () => {
    const transmitter = await startTransmitter()
    const request = { maxEvents: 1, returnImmediately: true, ack: [], setErrs: {} }
    const refused = pollTransmitter(fetch, `${transmitter.issuer}/poll`, 'not-the-token', request)
    await expect(refused).rejects.toThrow(`the poll endpoint at ${transmitter.issuer} answered 401`)
    await expect(refused).rejects.not.toThrow('/poll')
    // Nothing listens on port 9: the guarded fetch's own refusal names the origin too.
    const guarded = createGuardedFetch({ allowInsecure: true })
    const unreachable = pollTransmitter(guarded, 'http://127.0.0.1:9/poll/path-secret', 'token', request)
    await expect(unreachable).rejects.toMatchObject({ code: 'ERR_ISSUER_UNREACHABLE' })
    await expect(unreachable).rejects.not.toThrow('path-secret')
  })

  it('a store outage: no ack and no setErr while SETs cannot be stored, then acked after recovery', async () => {
    let down = true
    const { iss, register, state, management } = await pollSetUp({ sessions: sessionsDownWhile(() => down) })
    await register('s1', 'alice')
    const jti = management.enqueue(await revokedAlice(iss))
    const before = management.polls.length
    // Delivered, refused by the store, and delivered again, several times over.
    await eventually(() => management.polls.length).toBeGreaterThan(before + 3)
    expect(management.acked()).not.toContain(jti)
    expect(management.setErrs()).not.toHaveProperty(jti)
    expect(await state('s1')).toBe('active')
    down = false
    await eventually(() => management.acked()).toContain(jti)
    expect(await state('s1')).toBe('revoked')
  })

  it('a stopped gateway stops polling at once', async () => {
    const { gateway, management } = await pollSetUp()
    await eventually(() => management.polls.length).toBeGreaterThan(0)
    await gateway.close()
    const polls = management.polls.length
    await sleep(500)
    expect(management.polls.length).toBe(polls)
  })

  /** Two gateways over `first` and `second` (one store, two handles or the same): one polls at a time. */
  async function onePollerAtATime(first: BackchannelStore, second: BackchannelStore) {
    const { iss, register, state, management, gateway } = await pollSetUp({ store: first })
    const other = await startGateway(second, { polling: POLLING })
    // SETs over more than one lease term, so that the holder renews its lease meanwhile.
    for (const user of ['u1', 'u2', 'u3', 'u4']) {
      await register(user, user)
      const jti = management.enqueue(await sign(iss, sessionRevoked({ format: 'opaque', id: user })))
      await eventually(() => management.acked()).toContain(jti)
      expect(await state(user)).toBe('revoked')
      await sleep(900)
    }
    expect(management.mostPollsAtOnce).toBe(1)
    // Whichever held the stream, the one left polls it now.
    await gateway.close()
    await register('u5', 'u5')
    const jti = management.enqueue(await sign(iss, sessionRevoked({ format: 'opaque', id: 'u5' })))
    await eventually(() => management.acked()).toContain(jti)
    expect(await state('u5')).toBe('revoked')
    expect(management.mostPollsAtOnce).toBe(1)
    await other.gateway.close()
  }

  it('two gateways on one store: only one polls a stream at a time, and the other takes over when it stops', async () => {
    const store = memoryStore()
    await onePollerAtATime(store, store)
  }, 60_000)

  const redisUrl = inject('redisUrl')
  it.skipIf(!redisUrl)(
    'the same with two gateways on one Redis',
    async () => {
      const masterKey = randomBytes(32)
      const base = `ssfpoll${Date.now()}`
      const second = redisStore({ url: `${redisUrl}/7`, masterKey, base })
      closers.push(() => second.close())
      await onePollerAtATime(redisStore({ url: `${redisUrl}/7`, masterKey, base }), second)
    },
    60_000,
  )
})

describe('streams.connect', () => {
  it('creates the stream at the fixture with the push URL and header; the fixture then pushes with that header', async () => {
    const { admin, created, iss, register, state, transmitter, url, push } = await setUp()
    const { management } = transmitter
    management.pushOrigin = url
    const connected = await admin.streams.connect.mutate({ name: 'idp', accessToken: MANAGEMENT_TOKEN })
    expect(connected).toMatchObject({ stream: { streamId: 'stream-1' }, pushUrl: `${AUDIENCE}/ssf/idp` })
    const [configuration] = management.configurations
    expect(configuration).toMatchObject({
      method: 'POST',
      authorization: `Bearer ${MANAGEMENT_TOKEN}`,
      body: {
        delivery: {
          method: 'urn:ietf:rfc:8935',
          endpoint_url: `${AUDIENCE}/ssf/idp`,
          authorization_header: expect.stringMatching(/^Bearer bcp_/),
        },
        events_requested: expect.arrayContaining([`${CAEP}session-revoked`]),
      },
    })
    expect(configuration?.body.delivery).not.toMatchObject({ authorization_header: created.authorizationHeader })
    expect((await admin.streams.get.query({ name: 'idp' })).streamId).toBe('stream-1')

    await register('s1', 'alice', 'a')
    const token = await revokedAlice(iss)
    // The header shown at creation was replaced by the one the transmitter now holds.
    expect((await push(token)).status).toBe(401)
    expect((await management.push(token)).status).toBe(202)
    expect(await state('s1')).toBe('revoked')

    // Connecting again updates the stream the transmitter knows.
    await admin.streams.connect.mutate({ name: 'idp', accessToken: MANAGEMENT_TOKEN })
    expect(management.configurations[1]).toMatchObject({ method: 'PATCH', body: { stream_id: 'stream-1' } })

    const records = (await admin.audit.list.query({})).filter((r) => r.stream === 'idp')
    expect(records.find((r: { action?: string }) => r.action === 'streams.connect')).toMatchObject({
      fields: ['accessToken'],
    })
    expect(JSON.stringify([records, connected])).not.toContain(MANAGEMENT_TOKEN)
  })

  it('refused by the transmitter: the error names its answer, and the stream keeps its header', async () => {
    const { admin, iss, push } = await setUp()
    await expect(admin.streams.connect.mutate({ name: 'idp', accessToken: 'wrong-token' })).rejects.toMatchObject({
      data: { backchannelCode: 'ERR_ISSUER_UNREACHABLE' },
      message: /answered 401 \(authentication_failed\)/,
    })
    expect((await push(await revokedAlice(iss))).status).toBe(202)
  })

  it('connects a poll stream: the poll endpoint comes from the transmitter, and polling starts', async () => {
    const transmitter = await startTransmitter()
    const store = memoryStore()
    closers.push(() => store.close())
    const { admin } = await startGateway(store, { polling: POLLING })
    const iss = transmitter.issuer
    await admin.apps.create.mutate({ name: 'wiki', policy: { issuer: iss } })
    await admin.streams.create.mutate({
      name: 'idp',
      issuer: iss,
      apps: ['wiki'],
      delivery: 'poll',
      pollToken: POLL_TOKEN,
    })
    const connected = await admin.streams.connect.mutate({ name: 'idp', accessToken: MANAGEMENT_TOKEN })
    expect(connected.stream).toMatchObject({ streamId: 'stream-1', pollEndpointUrl: `${iss}/poll` })
    expect(transmitter.management.configurations[0]?.body.delivery).toEqual({ method: 'urn:ietf:rfc:8936' })
    const jti = transmitter.management.enqueue(await revokedAlice(iss))
    await eventually(() => transmitter.management.acked()).toContain(jti)

    // Verification over poll: the event is queued, polled, and its state recorded.
    const { lastVerification } = await admin.streams.verify.mutate({ name: 'idp', accessToken: MANAGEMENT_TOKEN })
    await eventually(async () => (await admin.streams.get.query({ name: 'idp' })).lastVerification).toMatchObject({
      state: lastVerification.state,
      verifiedAt: expect.any(Number),
    })
  })
})

describe('stream events', () => {
  it('streams.verify → the transmitter sends a verification event → its state is recorded', async () => {
    const { admin, transmitter, url, iss } = await setUp()
    const { management } = transmitter
    management.pushOrigin = url
    await expect(admin.streams.verify.mutate({ name: 'idp', accessToken: MANAGEMENT_TOKEN })).rejects.toThrow(
      /no stream_id/,
    )
    await admin.streams.connect.mutate({ name: 'idp', accessToken: MANAGEMENT_TOKEN })
    const { lastVerification } = await admin.streams.verify.mutate({ name: 'idp', accessToken: MANAGEMENT_TOKEN })
    expect(management.verifications).toEqual([{ stream_id: 'stream-1', state: lastVerification.state }])
    await eventually(async () => (await admin.streams.get.query({ name: 'idp' })).lastVerification).toEqual({
      ...lastVerification,
      verifiedAt: expect.any(Number),
    })

    // A new request the transmitter refuses keeps the last completed verification.
    const verified = (await admin.streams.get.query({ name: 'idp' })).lastVerification
    await expect(admin.streams.verify.mutate({ name: 'idp', accessToken: 'not-the-token' })).rejects.toThrow(/401/)
    expect((await admin.streams.get.query({ name: 'idp' })).lastVerification).toEqual(verified)

    // A verification nobody asked for: 202, audited ignored.
    const events = { [`${SSF}verification`]: { state: 'not-asked-for' } }
    const unasked = await sign(iss, events, { sub_id: { format: 'opaque', id: 'stream-1' } })
    expect((await management.push(unasked)).status).toBe(202)
    await eventually(async () =>
      (await admin.audit.list.query({ app: 'wiki' }))
        .filter((r: { event?: string }) => r.event === 'verification')
        .map((r: { outcome: string }) => r.outcome),
    ).toEqual(['ignored', 'applied'])
  })

  it('stream-updated to paused is recorded, with its reason, and shown by streams.get', async () => {
    const { admin, iss, push, audit } = await setUp()
    const before = await admin.streams.get.query({ name: 'idp' })
    expect(before).toMatchObject({ status: 'enabled' })
    expect(before).not.toHaveProperty('lastEventAt')
    const paused = { [`${SSF}stream-updated`]: { status: 'paused', reason: 'maintenance' } }
    expect((await push(await sign(iss, paused))).status).toBe(202)
    await eventually(() => admin.streams.get.query({ name: 'idp' })).toMatchObject({
      status: 'paused',
      statusReason: 'maintenance',
      lastEventAt: expect.any(Number),
    })
    const nonsense = { [`${SSF}stream-updated`]: { status: 'asleep' } }
    expect((await push(await sign(iss, nonsense))).status).toBe(202)
    await eventually(async () =>
      (await audit()).map((r: { outcome: string; event?: string }) => [r.event, r.outcome]),
    ).toEqual([
      ['stream-updated', 'ignored'],
      ['stream-updated', 'applied'],
    ])
    expect(await admin.streams.get.query({ name: 'idp' })).toMatchObject({ status: 'paused' })
  })
})

describe('pollBackoff', () => {
  it('doubles from 1 s to a ceiling of 300 s, each wait within ±25 %', () => {
    const table: [number, number][] = [
      [1, 1],
      [2, 2],
      [3, 4],
      [5, 16],
      [9, 256],
      [10, 300],
      [50, 300],
    ]
    for (const [failures, base] of table) {
      for (let i = 0; i < 20; i++) {
        const wait = pollBackoff(failures)
        expect([failures, wait >= 0.75 * base && wait <= 1.25 * base]).toEqual([failures, true])
      }
    }
  })
})

describe('the CLI', () => {
  it('takes the transmitter tokens from BACKCHANNEL_ACCESS_TOKEN / BACKCHANNEL_POLL_TOKEN, or - for standard input', async () => {
    const streams = adminCommands().streams?.subCommands as Record<string, Command>
    const connect = await resolveCommand(streams.connect as Command)
    vi.stubEnv('BACKCHANNEL_ACCESS_TOKEN', 'from-env')
    try {
      expect(parseFlags(connect.flags, ['--name', 'idp'])).toMatchObject({ 'access-token': 'from-env' })
    } finally {
      vi.unstubAllEnvs()
    }
    const values = parseFlags(connect.flags, ['--name', 'idp', '--access-token', '-'])
    await readSecrets(connect.flags, values, Readable.from(['from-stdin\n']))
    expect(values['access-token']).toBe('from-stdin')
    expect(connect.flags['access-token']?.description).toMatch(/\$BACKCHANNEL_ACCESS_TOKEN/)

    const create = await resolveCommand(streams.create as Command)
    vi.stubEnv('BACKCHANNEL_POLL_TOKEN', 'poll-from-env')
    try {
      const args = ['--name', 'idp', '--issuer', 'https://ssf.example.com', '--apps', 'wiki', '--delivery', 'poll']
      expect(parseFlags(create.flags, args)).toMatchObject({ 'poll-token': 'poll-from-env' })
    } finally {
      vi.unstubAllEnvs()
    }
  })

  it('has backchannel streams connect and verify, their tokens as flags', async () => {
    const streams = adminCommands().streams?.subCommands as Record<string, Command>
    const connect = await resolveCommand(streams.connect as Command)
    expect(connect.flags['access-token']).toMatchObject({ required: true })
    const help = renderHelp(['backchannel', 'streams', 'connect'], connect)
    expect(help).toMatch(/^Usage: backchannel streams connect --name <name> --access-token <access-token>/)
    expect((await resolveCommand(streams.verify as Command)).flags['access-token']).toMatchObject({ required: false })
    const create = await resolveCommand(streams.create as Command)
    expect(create.flags.delivery).toMatchObject({ type: 'enum', options: ['push', 'poll'] })
    expect(Object.keys(create.flags)).toEqual(expect.arrayContaining(['poll-token', 'poll-endpoint-url']))
  })
})
