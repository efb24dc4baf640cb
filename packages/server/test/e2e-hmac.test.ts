/**
 * End to end for applications without OIDC: the curl example of logout-token-rules.md, with a
 * token minted by jose (only sub and iat), with `@backchannel/core/mint`, and with
 * `backchannel token --send`.
 */
import { mintLogoutToken } from '@backchannel/core/mint'
import { SignJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type GatewayProcess, postLogout, runCli, startGateway } from './fixtures/gateway-process.js'

let gateway: GatewayProcess
let secret: string

beforeAll(async () => {
  gateway = await startGateway()
  const created = await gateway.admin.apps.create.mutate({ name: 'billing' })
  secret = created.secret as string
})
afterAll(async () => {
  expect(await gateway?.stop()).toBe(0)
})

const register = (sessionId: string, sub: string) =>
  gateway.admin.sessions.register.mutate({ app: 'billing', sessionId, sub })
const state = async (sessionId: string) =>
  (await gateway.admin.sessions.status.query({ app: 'billing', sessionId })).state

describe('a non-OIDC application logs its user out', () => {
  it('posts a token with only sub and iat, HS256: every session of that user ends', async () => {
    await register('u42-a', 'user-42')
    await register('u42-b', 'user-42')
    await register('u7', 'user-7')
    const token = await new SignJWT({ sub: 'user-42' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuedAt()
      .sign(new TextEncoder().encode(secret))
    const res = await postLogout(gateway.url, 'billing', `logout_token=${token}`)
    expect(res.status).toBe(200)
    expect(res.headers.get('cache-control')).toBe('no-store')
    expect([await state('u42-a'), await state('u42-b'), await state('u7')]).toEqual(['revoked', 'revoked', 'active'])
  })

  it('refuses a token MACed with another secret', async () => {
    const token = await new SignJWT({ sub: 'user-7' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuedAt()
      .sign(new TextEncoder().encode(`${secret}x`))
    const res = await postLogout(gateway.url, 'billing', `logout_token=${token}`)
    expect(res.status).toBe(400)
    expect(await res.json()).toEqual({ error: 'invalid_request', error_description: 'the signature does not verify' })
    expect(await state('u7')).toBe('active')
  })

  it("a token from @backchannel/core/mint ends that user's sessions", async () => {
    await register('mint-a', 'user-mint')
    await register('mint-b', 'user-other')
    const token = await mintLogoutToken({ secret, sub: 'user-mint' })
    const res = await postLogout(gateway.url, 'billing', `logout_token=${token}`)
    expect(res.status).toBe(200)
    expect([await state('mint-a'), await state('mint-b')]).toEqual(['revoked', 'active'])
  })

  it('backchannel token --send mints and posts a logout in one line', async () => {
    await register('cli-a', 'user-cli')
    const { code, stdout, stderr } = await runCli([
      'token',
      '--app',
      'billing',
      '--secret',
      secret,
      '--sub',
      'user-cli',
      '--send',
      gateway.url,
    ])
    expect(stderr).toBe('')
    expect(code).toBe(0)
    expect(JSON.parse(stdout)).toEqual({ status: 200 })
    expect(await state('cli-a')).toBe('revoked')
  })

  it('backchannel token prints a token that verifies', async () => {
    await register('cli-b', 'user-cli-2')
    const { code, stdout } = await runCli(['token', '--app', 'billing', '--sub', 'user-cli-2'], {
      BACKCHANNEL_SECRET: secret,
    })
    expect(code).toBe(0)
    expect((await postLogout(gateway.url, 'billing', `logout_token=${stdout.trim()}`)).status).toBe(200)
    expect(await state('cli-b')).toBe('revoked')
  })
})
