/**
 * Two gateway processes sharing one real Redis: a logout sent to one is seen by the other, the
 * same token sent to both at once revokes once, and an app created on one is served by the other.
 */
import { randomBytes } from 'node:crypto'
import { SignJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { type GatewayProcess, postLogout, startGateway } from './fixtures/gateway-process.js'
import './setup/provided.js'

const redisUrl = inject('redisUrl')
if (!redisUrl)
  console.warn(
    '\n⚠ SKIPPING the two-instance Redis test: redis-server is not installed (apt-get install -y redis-server).\n',
  )

describe.skipIf(!redisUrl)('two gateways on one Redis', () => {
  let one: GatewayProcess
  let two: GatewayProcess
  let secret: string

  beforeAll(async () => {
    const env = {
      BACKCHANNEL_STORAGE: `${redisUrl}/3`,
      BACKCHANNEL_MASTER_KEY: randomBytes(32).toString('base64url'),
    }
    ;[one, two] = await Promise.all([startGateway(env), startGateway(env)])
    secret = (await one.admin.apps.create.mutate({ name: `shared-${Date.now()}` })).secret as string
  })
  afterAll(async () => {
    expect(await one?.stop()).toBe(0)
    expect(await two?.stop()).toBe(0)
  })

  const appName = async () => (await one.admin.apps.list.query())[0]?.name as string
  const mint = (claims: Record<string, unknown>) =>
    new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().sign(new TextEncoder().encode(secret))

  it('serves on one instance an app created on the other (secret decrypted with the shared key)', async () => {
    const app = await appName()
    expect(await two.admin.apps.get.query({ name: app })).toMatchObject({ name: app, kind: 'hmac' })
    expect((await postLogout(two.url, app, `logout_token=${await mint({ sub: 'nobody' })}`)).status).toBe(200)
  })

  it('shows on one instance a logout sent to the other', async () => {
    const app = await appName()
    await one.admin.sessions.register.mutate({ app, sessionId: 'x1', sub: 'xavier' })
    expect((await postLogout(two.url, app, `logout_token=${await mint({ sub: 'xavier' })}`)).status).toBe(200)
    expect(await one.admin.sessions.status.query({ app, sessionId: 'x1' })).toMatchObject({ state: 'revoked' })
  })

  it('revokes once when the same token reaches both at the same time', async () => {
    const app = await appName()
    await one.admin.sessions.register.mutate({ app, sessionId: 'y1', sub: 'yolanda' })
    await one.admin.sessions.register.mutate({ app, sessionId: 'y2', sub: 'yolanda' })
    const token = await mint({ sub: 'yolanda', jti: `once-${Date.now()}` })
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) => postLogout(i % 2 ? one.url : two.url, app, `logout_token=${token}`)),
    )
    expect(answers.map((r) => r.status)).toEqual(Array(10).fill(200))
    // Audit records are written after the answers, each within a few milliseconds.
    const audited = async () =>
      (await one.admin.audit.list.query({ app })).filter((r) => r.subHash && r.outcome !== 'rejected')
    await expect.poll(async () => (await audited()).length).toBeGreaterThanOrEqual(10)
    const forToken = (await audited()).slice(0, 10)
    expect(forToken.filter((r) => r.outcome === 'revoked')).toHaveLength(1)
    expect(forToken.filter((r) => r.outcome === 'replayed')).toHaveLength(9)
    expect(forToken.find((r) => r.outcome === 'revoked')?.revoked).toBe(2)
  })

  it('sees an application changed on the other instance within a few seconds', async () => {
    const app = await appName()
    const signWith = (key: string) =>
      new SignJWT({ sub: 'zoe' }).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().sign(new TextEncoder().encode(key))
    const oldSecret = secret
    expect((await postLogout(two.url, app, `logout_token=${await signWith(oldSecret)}`)).status).toBe(200) // cached on two
    // Rotate on instance one with no grace: the old secret must stop verifying on both.
    const newSecret = (await one.admin.apps.rotateSecret.mutate({ name: app, graceSeconds: 0 })).secret
    secret = newSecret
    await expect
      .poll(async () => (await postLogout(two.url, app, `logout_token=${await signWith(newSecret)}`)).status, {
        timeout: 5_000,
        interval: 200,
      })
      .toBe(200)
    expect((await postLogout(two.url, app, `logout_token=${await signWith(oldSecret)}`)).status).toBe(400)
  })
})
