/**
 * Relays end to end over real sockets: a gateway served on 127.0.0.1 takes a real logout POST,
 * and real receivers on 127.0.0.1 get what it relays, through the gateway's own attempt
 * (relay/attempt.ts); the retry schedule is shortened through the gateway's `relays.planRetry`
 * option (fixtures/quick-retry.js), not by sleeping. The durability tests kill a gateway process
 * (fixtures/relay-gateway.js) with SIGKILL.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { hashToken } from '@backchannel/admin'
import { createAdminClient } from '@backchannel/admin/client'
import { mintLogoutToken } from '@backchannel/core/mint'
import type { BackchannelStore } from '@backchannel/unstorage'
import { fsStore } from '@backchannel/unstorage/fs'
import { memoryStore } from '@backchannel/unstorage/memory'
import { postgresStore } from '@backchannel/unstorage/postgres'
import { redisStore } from '@backchannel/unstorage/redis'
import { serve } from 'h3'
import { afterEach, describe, expect, inject, it } from 'vitest'
import { createGateway } from '../src/index.js'
import { listening } from './fixtures/gateway-process.js'
import { quickRetry } from './fixtures/quick-retry.js'
import './setup/provided.js'

const ADMIN = 'bca_relay-test-admin-token-0123456789'

/** A receiver on 127.0.0.1 that answers with `statuses` in turn (the last one from then on). */
async function startReceiver(statuses: number[]) {
  const tokens: string[] = []
  const answers = [...statuses]
  const server: Server = createServer((req, res) => {
    let body = ''
    req.on('data', (c) => (body += c))
    req.on('end', () => {
      const status = answers.length > 1 ? (answers.shift() as number) : (answers[0] as number)
      if (status >= 200 && status < 300) tokens.push(new URLSearchParams(body).get('logout_token') ?? '')
      res.writeHead(status).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/bcl`,
    /** Tokens received with a 2xx answer, in order. */
    tokens,
    answer: (...next: number[]) => answers.splice(0, answers.length, ...next),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

const closers: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close()
})

/** A gateway over `store`, served on 127.0.0.1, with this test's quick retry schedule. */
async function startGateway(store: BackchannelStore, { close = true } = {}) {
  const gateway = createGateway({
    store,
    adminTokenHash: hashToken(ADMIN),
    fetchPolicy: { allowInsecure: true },
    relays: { planRetry: quickRetry, pollMs: 50 },
  })
  const server = serve(gateway.app, { port: 0, hostname: '127.0.0.1', silent: true, gracefulShutdown: false })
  await server.ready()
  const url = (server.url as string).replace(/\/$/, '')
  const stop = async () => {
    await server.close(true)
    await gateway.close()
  }
  if (close) closers.push(stop)
  return { url, gateway, stop, admin: createAdminClient({ url: `${url}/trpc`, token: ADMIN }) }
}

const post = (url: string, app: string, token: string) =>
  fetch(`${url}/auth/logout/${app}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `logout_token=${token}`,
  })

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, ms = 10_000): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const value = await read()
    if (done(value) || Date.now() > end) return value
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** The gateway of fixtures/relay-gateway.js in a child process, until `kill()` (SIGKILL). */
async function startGatewayProcess(env: Record<string, string>) {
  const script = new URL('./fixtures/relay-gateway.js', import.meta.url).pathname
  const child: ChildProcess = spawn(process.execPath, [script], {
    env: { ...process.env, BACKCHANNEL_ADMIN_TOKEN: ADMIN, BACKCHANNEL_LOG_LEVEL: 'silent', ...env },
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const url = await listening(child).url
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
  }
  closers.push(kill)
  return { url, kill, admin: createAdminClient({ url: `${url}/trpc`, token: ADMIN }) }
}

/** An HMAC application relaying to `urls` (forward); its secret, to mint logout tokens with. */
async function relayingApp(
  gw: { admin: ReturnType<typeof createAdminClient> },
  name: string,
  urls: string[],
  relayWaitMs = 0,
) {
  const created = await gw.admin.apps.create.mutate({
    name,
    policy: { relayWaitMs },
    relays: urls.map((url) => ({ url, mode: 'forward' as const })),
  })
  const secret = created.secret as string
  return (sub: string) => mintLogoutToken({ secret, sub })
}

describe('relays (forward) over real HTTP', () => {
  it("relays the IdP's token byte for byte to every relay, before the answer with relayWaitMs", async () => {
    const [one, two] = [await startReceiver([200]), await startReceiver([204])]
    closers.push(one.close, two.close)
    const store = memoryStore()
    closers.push(() => store.close())
    const gw = await startGateway(store)
    const mint = await relayingApp(gw, 'wiki', [one.url, two.url], 3000)
    const token = await mint('alice')
    expect((await post(gw.url, 'wiki', token)).status).toBe(200)
    // relayWaitMs: both first attempts were made before the 200.
    expect(one.tokens).toEqual([token])
    expect(two.tokens).toEqual([token])
    const listed = await gw.admin.relays.list.query({ app: 'wiki' })
    expect(listed.map((d) => [d.state, d.attempts])).toEqual([
      ['delivered', 1],
      ['delivered', 1],
    ])
    // The same token again is a replay: nothing relayed twice.
    expect((await post(gw.url, 'wiki', token)).status).toBe(200)
    expect(await gw.admin.relays.list.query({ app: 'wiki' })).toHaveLength(2)
    const audit = await until(
      () => gw.admin.audit.list.query({ app: 'wiki' }),
      (records) => records.filter((r) => r.source === 'relay').length === 2,
    )
    const relayed = audit.filter((r) => r.source === 'relay')
    expect(relayed.map((r) => [r.outcome, r.attempts, r.status]).sort()).toEqual([
      ['delivered', 1, 200],
      ['delivered', 1, 204],
    ])
    expect(relayed[0]).toMatchObject({ app: 'wiki', delivery: expect.any(String), subHash: expect.any(String) })
    expect(JSON.stringify(relayed)).not.toContain('alice')
    const metrics = await gw.gateway.metrics.registry.getSingleMetricAsString('backchannel_relay_deliveries_total')
    expect(metrics).toContain('backchannel_relay_deliveries_total{app="wiki",outcome="delivered"} 2')
  })

  it('retries a receiver answering 503 until it answers 200, and shows the attempts', async () => {
    const receiver = await startReceiver([503, 503, 200])
    closers.push(receiver.close)
    const store = memoryStore()
    closers.push(() => store.close())
    const gw = await startGateway(store)
    const token = await (await relayingApp(gw, 'wiki', [receiver.url]))('alice')
    expect((await post(gw.url, 'wiki', token)).status).toBe(200)
    const [delivery] = await until(
      () => gw.admin.relays.list.query({ app: 'wiki' }),
      ([d]) => d?.state === 'delivered',
    )
    expect(delivery).toMatchObject({ state: 'delivered', attempts: 3, lastStatus: 200 })
    expect(receiver.tokens).toEqual([token])
    const audit = await until(
      () => gw.admin.audit.list.query({ app: 'wiki' }),
      (records) => records.filter((r) => r.source === 'relay').length === 3,
    )
    expect(audit.filter((r) => r.source === 'relay').map((r) => [r.outcome, r.status])).toEqual([
      ['delivered', 200],
      ['retry', 503],
      ['retry', 503],
    ])
  })

  it('kills a delivery answered 400 at once; relays.retry delivers it once the receiver is fixed', async () => {
    const receiver = await startReceiver([400])
    closers.push(receiver.close)
    const store = memoryStore()
    closers.push(() => store.close())
    const gw = await startGateway(store)
    const token = await (await relayingApp(gw, 'wiki', [receiver.url]))('alice')
    expect((await post(gw.url, 'wiki', token)).status).toBe(200)
    const [dead] = await until(
      () => gw.admin.relays.list.query({ app: 'wiki', state: 'dead' }),
      (list) => list.length === 1,
    )
    expect(dead).toMatchObject({ state: 'dead', attempts: 1, lastStatus: 400, lastError: 'the relay answered 400' })
    receiver.answer(200)
    expect(await gw.admin.relays.retry.mutate({ id: dead?.id ?? '' })).toEqual({ retried: 1 })
    await until(
      () => gw.admin.relays.list.query({ app: 'wiki', state: 'delivered' }),
      (list) => list.length === 1,
    )
    expect(receiver.tokens).toEqual([token])
  })
})

describe('relay deliveries outlive the gateway', () => {
  it('delivers, after a restart on the same fs store, what was still pending when the gateway stopped', async () => {
    const receiver = await startReceiver([503])
    closers.push(receiver.close)
    const base = await mkdtemp(join(tmpdir(), 'bc-relay-'))
    closers.push(() => rm(base, { recursive: true, force: true }))
    const masterKey = randomBytes(32)

    const first = await fsStore({ base, masterKey, fsync: false })
    const gw = await startGateway(first, { close: false })
    const mint = await relayingApp(gw, 'wiki', [receiver.url])
    const tokens = await Promise.all(['a', 'b', 'c'].map((sub) => mint(sub)))
    for (const token of tokens) expect((await post(gw.url, 'wiki', token)).status).toBe(200)
    await until(
      () => first.outbox.list({ app: 'wiki' }),
      (list) => list.every((d) => d.attempts >= 1),
    )
    await gw.stop()
    await first.close()
    expect(receiver.tokens).toEqual([])

    receiver.answer(200)
    const again = await fsStore({ base, masterKey, fsync: false })
    closers.push(() => again.close())
    await startGateway(again)
    await until(
      () => again.outbox.list({ app: 'wiki', state: 'delivered' }),
      (list) => list.length === 3,
    )
    expect(receiver.tokens.sort()).toEqual([...tokens].sort())
  })

  /** Logouts while the receiver answers 503, SIGKILL, then a new process on `storage` delivers them all. */
  async function killedAndRestarted(storage: string) {
    const receiver = await startReceiver([503])
    closers.push(receiver.close)
    const env = { BACKCHANNEL_STORAGE: storage, BACKCHANNEL_MASTER_KEY: randomBytes(32).toString('base64url') }
    const first = await startGatewayProcess(env)
    const mint = await relayingApp(first, 'wiki', [receiver.url])
    const tokens = await Promise.all(['a', 'b', 'c', 'd'].map((sub) => mint(sub)))
    for (const token of tokens) expect((await post(first.url, 'wiki', token)).status).toBe(200)
    await until(
      () => first.admin.relays.list.query({ app: 'wiki' }),
      (list) => list.length === 4 && list.every((d) => d.attempts >= 1),
    )
    await first.kill()
    expect(receiver.tokens).toEqual([])

    receiver.answer(200)
    const second = await startGatewayProcess(env)
    const delivered = await until(
      () => second.admin.relays.list.query({ app: 'wiki', state: 'delivered' }),
      (list) => list.length === 4,
    )
    expect(delivered).toHaveLength(4)
    expect(receiver.tokens.sort()).toEqual([...tokens].sort())
  }

  it('delivers, after a SIGKILL and a restart on the same fs folder, every delivery left pending', async () => {
    const base = await mkdtemp(join(tmpdir(), 'bc-relay-kill-'))
    closers.push(() => rm(base, { recursive: true, force: true }))
    await killedAndRestarted(`fs://${base}`)
  })

  const redisUrl = inject('redisUrl')
  it.skipIf(!redisUrl)(
    'delivers, after a SIGKILL and a restart on the same Redis, every delivery left pending',
    async () => {
      await killedAndRestarted(`${redisUrl}/6`)
    },
  )

  /** 20 logouts spread over two gateways sharing `stores`' engine: each relay gets each token once. */
  async function deliveredOnceByTwoGateways(stores: BackchannelStore[]) {
    const receivers = [await startReceiver([200]), await startReceiver([200])]
    for (const r of receivers) closers.push(r.close)
    for (const s of stores) closers.push(() => s.close())
    const [one, two] = [
      await startGateway(stores[0] as BackchannelStore),
      await startGateway(stores[1] as BackchannelStore),
    ]
    if (!one || !two) throw new Error('no gateways')
    const mint = await relayingApp(
      one,
      'wiki',
      receivers.map((r) => r.url),
    )
    const tokens = await Promise.all(Array.from({ length: 20 }, (_, i) => mint(`user${i}`)))
    const answers = await Promise.all(tokens.map((token, i) => post(i % 2 ? one.url : two.url, 'wiki', token)))
    expect(answers.map((r) => r.status)).toEqual(Array(20).fill(200))
    await until(
      () => (stores[0] as BackchannelStore).outbox.list({ app: 'wiki', state: 'delivered', limit: 100 }),
      (list) => list.length === 40,
    )
    for (const receiver of receivers) expect(receiver.tokens.sort()).toEqual([...tokens].sort())
  }

  it.skipIf(!redisUrl)('delivers each (logout, relay) once with two gateways on one Redis', async () => {
    const masterKey = randomBytes(32)
    const base = `relay${Date.now()}`
    await deliveredOnceByTwoGateways([0, 1].map(() => redisStore({ url: `${redisUrl}/5`, masterKey, base })))
  })

  const postgresUrl = inject('postgresUrl')
  it.skipIf(!postgresUrl)('delivers each (logout, relay) once with two gateways on one PostgreSQL', async () => {
    const masterKey = randomBytes(32)
    const schema = `relay${Date.now()}`
    // One after the other: the first creates the schema.
    const first = await postgresStore({ url: postgresUrl as string, masterKey, schema })
    const second = await postgresStore({ url: postgresUrl as string, masterKey, schema })
    await deliveredOnceByTwoGateways([first, second])
  })
})
