/**
 * Bad input at the HTTP edge of a real gateway process, over a socket: each gets its designed
 * status and a JSON error, and the server keeps serving. Then throttling, health and metrics.
 */
import { errorStatus, errors } from '@backchannel/core'
import { SignJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type GatewayProcess, postLogout, startGateway } from './fixtures/gateway-process.js'

let gateway: GatewayProcess
let secret: string

beforeAll(async () => {
  gateway = await startGateway()
  secret = (await gateway.admin.apps.create.mutate({ name: 'edge' })).secret as string
})
afterAll(async () => {
  expect(await gateway?.stop()).toBe(0)
})

const validToken = (sub = 'u') =>
  new SignJWT({ sub }).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().sign(new TextEncoder().encode(secret))

async function expectJsonError(res: Response, status: number, description: RegExp) {
  expect(res.status).toBe(status)
  expect(res.headers.get('cache-control')).toBe('no-store')
  const body = (await res.json()) as { error: string; error_description: string }
  expect(body.error).toBe('invalid_request')
  expect(body.error_description).toMatch(description)
  return body
}

describe('bad input at the edge', () => {
  it('GET → 405 with Allow: POST', async () => {
    const res = await fetch(`${gateway.url}/auth/logout/edge`)
    expect(res.headers.get('allow')).toBe('POST')
    await expectJsonError(res, 405, /use POST/)
  })

  it('a JSON body → 400', async () => {
    const res = await postLogout(gateway.url, 'edge', JSON.stringify({ logout_token: await validToken() }), {
      'content-type': 'application/json',
    })
    await expectJsonError(res, 400, /x-www-form-urlencoded/)
  })

  it('an empty body → 400', async () => {
    await expectJsonError(await postLogout(gateway.url, 'edge', ''), 400, /logout_token is missing/)
  })

  it('two logout_token fields → 400', async () => {
    const token = await validToken()
    await expectJsonError(
      await postLogout(gateway.url, 'edge', `logout_token=${token}&logout_token=${token}`),
      400,
      /exactly once/,
    )
  })

  it('a 1 MiB body → 413', async () => {
    const res = await postLogout(gateway.url, 'edge', `logout_token=${'x'.repeat(1024 * 1024)}`)
    await expectJsonError(res, 413, /larger than 16384 bytes/)
  })

  it('a 10,000-character garbage token → 400, not echoed', async () => {
    const garbage = 'A'.repeat(10_000)
    const body = await expectJsonError(
      await postLogout(gateway.url, 'edge', `logout_token=${garbage}`),
      400,
      /compact JWS/,
    )
    expect(JSON.stringify(body)).not.toContain('AAAAAAAAAA')
  })

  it('an unknown app → 404', async () => {
    await expectJsonError(await postLogout(gateway.url, 'nope', `logout_token=${await validToken()}`), 404, /nope/)
  })

  it('keeps serving after all of that', async () => {
    expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200)
    expect((await postLogout(gateway.url, 'edge', `logout_token=${await validToken()}`)).status).toBe(200)
  })
})

describe('throttling failed verifications', () => {
  it('answers 429 with Retry-After once an address fails too often, but never to a valid logout', async () => {
    // The same loopback address has failed a few times above; 30 failures per minute are allowed.
    const limited = errorStatus(new errors.RateLimited(1)).status
    expect(limited).toBe(429)
    let throttled: Response | undefined
    for (let i = 0; i < 40 && !throttled; i++) {
      const res = await postLogout(gateway.url, 'edge', 'logout_token=forged.token.value')
      if (res.status === limited) throttled = res
      else expect(res.status).toBe(400)
    }
    expect(throttled).toBeDefined()
    const retryAfter = Number(throttled?.headers.get('retry-after'))
    expect(retryAfter).toBeGreaterThan(0)
    expect(throttled?.headers.get('cache-control')).toBe('no-store')
    expect(await throttled?.json()).toEqual({
      error: 'invalid_request',
      error_description: `too many failed logout requests; retry after ${retryAfter} s`,
    })
    const metrics = await (await fetch(`${gateway.url}/metrics`)).text()
    expect(metrics).toMatch(
      /backchannel_logout_requests_total\{app="\(other\)",status="429",code="ERR_RATE_LIMITED"\} \d+/,
    )

    // A genuine logout from the throttled address still goes through.
    const valid = await Promise.all(Array.from({ length: 20 }, (_, i) => validToken(`burst-${i}`)))
    const answers = await Promise.all(valid.map((t) => postLogout(gateway.url, 'edge', `logout_token=${t}`)))
    expect(answers.map((r) => r.status)).toEqual(Array(20).fill(200))
  })
})

describe('health and metrics', () => {
  it('/healthz and /readyz answer 200 while the store is reachable', async () => {
    expect(await (await fetch(`${gateway.url}/healthz`)).json()).toEqual({ status: 'ok' })
    expect(await (await fetch(`${gateway.url}/readyz`)).json()).toEqual({ status: 'ready' })
  })

  it('/metrics counts outcomes by app and code, and latencies', async () => {
    const res = await fetch(`${gateway.url}/metrics`)
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/)
    const text = await res.text()
    expect(text).toMatch(
      /backchannel_logout_requests_total\{app="edge",status="400",code="ERR_LOGOUT_TOKEN_MALFORMED"\} \d+/,
    )
    expect(text).toMatch(/backchannel_logout_requests_total\{app="\(other\)",status="404",code="ERR_APP_UNKNOWN"\} 1/)
    expect(text).toMatch(/backchannel_logout_duration_seconds_bucket\{le="0.01",status="200"\} \d+/)
    expect(text).toMatch(/backchannel_sessions_revoked_total/)
    expect(text).toMatch(/backchannel_store_errors_total 0/)
  })
})
