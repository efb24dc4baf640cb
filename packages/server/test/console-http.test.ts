/**
 * The admin console over real HTTP, without a browser: the session cookie's flags, sign-out
 * ending the session in the store, the CSRF token and Origin checks on every POST, the security
 * headers on every answer, and the page weight.
 */
import { execFile } from 'node:child_process'
import { request } from 'node:http'
import { promisify } from 'node:util'
import { gzipSync } from 'node:zlib'
import { errors } from '@backchannel/core'
import { mintLogoutToken } from '@backchannel/core/mint'
import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADMIN_TOKEN } from './fixtures/gateway-process.js'
import { type LoopbackGateway, startLoopbackGateway } from './fixtures/loopback-gateway.js'
import { AUDIENCE, closers, MANAGEMENT_TOKEN, startTransmitter } from './fixtures/ssf-transmitter.js'

let gw: LoopbackGateway
/** Everything the gateway logged, as text. */
let logged = ''

beforeAll(async () => {
  gw = await startLoopbackGateway({
    logger: pino(
      { level: 'debug' },
      {
        write: (line: string) => {
          logged += line
        },
      },
    ),
    failureLimits: { perAddress: 5 },
  })
})
afterAll(async () => {
  await gw?.close()
})

const form = (fields: Record<string, string>) => new URLSearchParams(fields)

/** POSTs a form as the console's own page would (same origin), unless `headers` say otherwise. */
function post(path: string, fields: Record<string, string>, headers: Record<string, string> = {}, base = gw.url) {
  return fetch(`${base}${path}`, {
    method: 'POST',
    body: form(fields),
    redirect: 'manual',
    headers: { origin: base, 'sec-fetch-site': 'same-origin', ...headers },
  })
}

/** Signs in with `token` at `base`; the session cookie (`name=value`) and the page's CSRF token. */
async function signIn(
  token = ADMIN_TOKEN,
  base = gw.url,
): Promise<{ cookie: string; csrf: string; setCookie: string }> {
  const res = await post('/admin/sign-in', { token }, {}, base)
  expect(res.status).toBe(303)
  const landing = res.headers.get('location') ?? ''
  expect(landing).toMatch(/^\/admin\/apps/)
  const setCookie = res.headers.get('set-cookie') ?? ''
  const cookie = setCookie.split(';')[0] ?? ''
  const html = await (await get(landing, cookie, base)).text()
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? ''
  expect(csrf).not.toBe('')
  return { cookie, csrf, setCookie }
}

const get = (path: string, cookie?: string, base = gw.url) =>
  fetch(`${base}${path}`, { redirect: 'manual', headers: cookie ? { cookie } : {} })

describe('signing in', () => {
  it('sets an HttpOnly, SameSite=Strict cookie on /admin with an expiry, holding no token', async () => {
    const { setCookie, cookie } = await signIn()
    expect(setCookie).toMatch(/^backchannel_console=[\w-]{43};/)
    expect(setCookie).toMatch(/; HttpOnly/i)
    expect(setCookie).toMatch(/; SameSite=Strict/i)
    expect(setCookie).toMatch(/; Path=\/admin/i)
    expect(setCookie).toMatch(/; Max-Age=28800/i)
    // Plain http on loopback: not Secure (a browser would drop it); https requests get Secure.
    expect(setCookie).not.toMatch(/; Secure/i)
    expect(setCookie).not.toContain(ADMIN_TOKEN)
    expect(cookie).not.toContain(ADMIN_TOKEN)
  })

  it('refuses a wrong token with a message, and sets no cookie', async () => {
    const res = await post('/admin/sign-in', { token: 'not-the-token' })
    expect(res.status).toBe(401)
    expect(res.headers.get('set-cookie')).toBeNull()
    expect(await res.text()).toContain('This is neither the admin token nor an application')
  })

  it('sends the signed-out to the sign-in page', async () => {
    const res = await get('/admin/apps')
    expect(res.status).toBe(303)
    expect(res.headers.get('location')).toBe('/admin/sign-in')
    expect((await get('/admin/apps', 'backchannel_console=forged')).status).toBe(303)
  })

  it('signing out ends the session in the store: the cookie opens nothing afterwards', async () => {
    const { cookie, csrf } = await signIn()
    expect((await get('/admin/apps', cookie)).status).toBe(200)
    const out = await post('/admin/sign-out', { csrf }, { cookie })
    expect(out.status).toBe(303)
    expect(out.headers.get('set-cookie')).toMatch(/^backchannel_console=;.*Max-Age=0/i)
    expect((await get('/admin/apps', cookie)).status).toBe(303)
  })
})

describe('signing in, further', () => {
  it('marks the cookie Secure when the console is reached over https', async () => {
    const res = await gw.gateway.fetch(
      new Request('https://gw.example/admin/sign-in', {
        method: 'POST',
        body: form({ token: ADMIN_TOKEN }),
        headers: { 'sec-fetch-site': 'same-origin' },
      }),
    )
    expect(res.status).toBe(303)
    expect(res.headers.get('set-cookie')).toMatch(/; Secure/i)
  })

  it('throttles failed sign-ins per address with the failure limits, never the right token', async () => {
    const statuses: number[] = []
    for (let i = 0; i < 7; i++) statuses.push((await post('/admin/sign-in', { token: `wrong-${i}` })).status)
    // Seven failures against a limit of five a minute: at least the last two are refused.
    expect(statuses.slice(-2)).toEqual([429, 429])
    const throttled = await post('/admin/sign-in', { token: 'wrong-again' })
    expect(Number(throttled.headers.get('retry-after'))).toBeGreaterThan(0)
    expect(await throttled.text()).toContain('Too many failed sign-ins')
    expect((await post('/admin/sign-in', { token: ADMIN_TOKEN })).status).toBe(303)
  })
})

describe('failures', () => {
  it('answers 503 with the security headers when the store is down, and logs the error', async () => {
    const lines: string[] = []
    const down = await startLoopbackGateway({ logger: pino({}, { write: (line: string) => lines.push(line) }) })
    try {
      // The store went away: reading a session fails as a store that does not answer does.
      down.store.consoleSessions.get = () => Promise.reject(new errors.StoreUnavailable('the store failed'))
      const res = await fetch(`${down.url}/admin/apps`, { headers: { cookie: 'backchannel_console=x' } })
      expect(res.status).toBe(503)
      expect(res.headers.get('retry-after')).toBe('5')
      expect(res.headers.get('content-security-policy')).toMatch(/^default-src 'none'/)
      expect(await res.text()).toContain('The store does not answer')
      await expect.poll(() => lines.join('')).toContain('admin console error')
    } finally {
      await down.close()
    }
  })
})

describe('the token debugger', () => {
  it('stores and logs nothing: no audit record, no log line with the token, and its jti stays unclaimed', async () => {
    const { cookie, csrf } = await signIn()
    const { secret } = await gw.admin.apps.create.mutate({ name: 'debugged' })
    const token = await mintLogoutToken({ secret: secret ?? '', sub: 'zoe' })
    const before = await gw.admin.audit.list.query({ app: 'debugged' })
    const res = await post('/admin/debugger', { csrf, token, target: 'app:debugged' }, { cookie })
    expect(res.status).toBe(200)
    expect(await res.text()).toContain('Accepted: the token passes every rule')
    expect(await gw.admin.audit.list.query({ app: 'debugged' })).toEqual(before)
    expect(logged).not.toContain(token)
    expect(logged).not.toContain(token.split('.')[2])
    const logout = await fetch(`${gw.url}/auth/logout/debugged`, {
      method: 'POST',
      body: form({ logout_token: token }),
    })
    expect(logout.status).toBe(200)
  })
})

describe('rotating a secret', () => {
  it("shows a curl line with the iss and aud the application's policy expects, which logs the user out", async () => {
    const { cookie, csrf } = await signIn()
    await gw.admin.apps.create.mutate({ name: 'strict', policy: { audience: 'gateway', issuer: 'billing-backend' } })
    await gw.admin.sessions.register.mutate({ app: 'strict', sessionId: 's-1', sub: 'test-user' })
    const res = await post('/admin/apps/strict/rotate-secret', { csrf, graceSeconds: '0' }, { cookie })
    expect(res.status).toBe(200)
    const html = await res.text()
    const cli = /id="cli-line"[^>]*value="([^"]+)"/.exec(html)?.[1] ?? ''
    expect(cli).toMatch(/--iss billing-backend --aud gateway --send /)
    const [command, ...args] = (/id="curl-line"[^>]*value="([^"]+)"/.exec(html)?.[1] ?? '').split(' ')
    expect(command).toBe('curl')
    await promisify(execFile)('curl', args)
    expect((await gw.admin.sessions.status.query({ app: 'strict', sessionId: 's-1' })).state).toBe('revoked')
  })
})

describe('cross-site requests', () => {
  it('refuses a POST without the CSRF token, or with another session’s, changing nothing', async () => {
    const { cookie } = await signIn()
    const other = await signIn()
    for (const fields of [{}, { csrf: other.csrf }] as Record<string, string>[]) {
      const res = await post('/admin/apps', { ...fields, kind: 'hmac', name: 'csrf-victim' }, { cookie })
      expect(res.status).toBe(403)
    }
    expect((await gw.admin.apps.list.query()).map((a) => a.name)).not.toContain('csrf-victim')
  })

  it('refuses a POST from another origin, or that the browser marks cross-site, even with the token', async () => {
    const { cookie, csrf } = await signIn()
    // A browser that sends no Sec-Fetch-Site: its Origin decides.
    const crossOrigin = await fetch(`${gw.url}/admin/apps`, {
      method: 'POST',
      body: form({ csrf, kind: 'hmac', name: 'csrf-victim' }),
      redirect: 'manual',
      headers: { cookie, origin: 'https://evil.example' },
    })
    expect(crossOrigin.status).toBe(403)
    const crossSite = await post(
      '/admin/apps',
      { csrf, kind: 'hmac', name: 'csrf-victim' },
      { cookie, 'sec-fetch-site': 'cross-site' },
    )
    expect(crossSite.status).toBe(403)
    expect((await gw.admin.apps.list.query()).map((a) => a.name)).not.toContain('csrf-victim')
    // The same form from the console's own page goes through.
    const own = await post('/admin/apps', { csrf, kind: 'hmac', name: 'csrf-ok' }, { cookie })
    expect(own.status).toBe(200)
  })
})

/**
 * POSTs `chunks` to the sign-in form over a real socket, chunked (no Content-Length), a few ms
 * apart; the answer's status. The gateway may answer and close before the last chunk: writing
 * then stops, and the reset that follows is expected.
 */
function postChunked(chunks: string[]): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    let answered = false
    const req = request(
      `${gw.url}/admin/sign-in`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'transfer-encoding': 'chunked' },
      },
      (res) => {
        answered = true
        res.resume()
        resolve(res.statusCode ?? 0)
      },
    )
    req.on('error', (err) => {
      if (!answered) reject(err)
    })
    void (async () => {
      for (const chunk of chunks) {
        if (answered) return
        req.write(chunk)
        await new Promise((wait) => setTimeout(wait, 2))
      }
      req.end()
    })()
  })
}

describe('form bodies', () => {
  it('answers 413 to a chunked sign-in body over the cap, with no Content-Length to go by', async () => {
    // 150 KB in 10 KB chunks against a cap of 100 KB: the body never says its size.
    expect(await postChunked(['token=', ...Array.from({ length: 15 }, () => 'a'.repeat(10_000))])).toBe(413)
    // A chunked form under the cap is read as usual: the admin token signs in.
    expect(await postChunked(['token=', encodeURIComponent(ADMIN_TOKEN)])).toBe(303)
  })
})

describe('Shared Signals streams', () => {
  it("a stream's Verify button makes the transmitter send its verification event; the page then shows it verified", async () => {
    const transmitter = await startTransmitter()
    const at = await startLoopbackGateway()
    closers.push(() => at.close())
    transmitter.management.pushOrigin = at.url
    await at.admin.apps.create.mutate({ name: 'wiki', policy: { issuer: transmitter.issuer } })
    await at.admin.streams.create.mutate({
      name: 'idp',
      issuer: transmitter.issuer,
      apps: ['wiki'],
      audience: AUDIENCE,
    })
    const { cookie, csrf } = await signIn(ADMIN_TOKEN, at.url)

    // No stream_id yet: the API's refusal is shown, and the token typed is not written back.
    const refused = await post(
      '/admin/streams/verify',
      { csrf, name: 'idp', accessToken: MANAGEMENT_TOKEN },
      { cookie },
      at.url,
    )
    expect(refused.status).toBe(400)
    const refusal = await refused.text()
    expect(refusal).toContain('the stream has no stream_id')
    expect(refusal).not.toContain(MANAGEMENT_TOKEN)

    await at.admin.streams.connect.mutate({ name: 'idp', accessToken: MANAGEMENT_TOKEN })
    const before = await (await get('/admin/streams', cookie, at.url)).text()
    expect(before).toContain('never asked')
    expect(before).toContain('<label for="f-verify-idp-accessToken">Transmitter access token (optional)</label>')
    const asked = await post(
      '/admin/streams/verify',
      { csrf, name: 'idp', accessToken: MANAGEMENT_TOKEN },
      { cookie },
      at.url,
    )
    expect(asked.status).toBe(303)
    expect(transmitter.management.verifications).toHaveLength(1)
    await expect
      .poll(
        async () =>
          (await (await get(asked.headers.get('location') ?? '', cookie, at.url)).text()).match(
            /verified \d{4}-[^<]*/,
          )?.[0],
      )
      .toMatch(/^verified .* \(asked /)
    const shown = await (await get('/admin/streams', cookie, at.url)).text()
    expect(shown).toContain('<td>enabled</td>')
  })
})

describe('headers and weight', () => {
  it('sends a strict CSP, nosniff, no referrer and no-store on every console answer', async () => {
    const { cookie } = await signIn()
    for (const res of [
      await get('/admin/sign-in'),
      await get('/admin/apps', cookie),
      await get('/admin/assets/console.css'),
      await get('/admin/nothing-here', cookie),
      await post('/admin/sign-in', { token: 'wrong' }),
    ]) {
      expect(res.headers.get('content-security-policy')).toBe(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; " +
          "frame-ancestors 'none'; base-uri 'none'",
      )
      expect(res.headers.get('x-content-type-options')).toBe('nosniff')
      expect(res.headers.get('referrer-policy')).toBe('no-referrer')
      expect(res.headers.get('cache-control')).toBe('no-store')
    }
  })

  it('serves its stylesheet and script with their content types; a page has no inline script or style', async () => {
    const css = await get('/admin/assets/console.css')
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8')
    const js = await get('/admin/assets/console.js')
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8')
    expect((await get('/admin/assets/gateway.ts')).status).toBe(404)
    expect((await get('/admin/assets/%2e%2e%2fhttp.ts')).status).toBe(404)
    const { cookie } = await signIn()
    const html = await (await get('/admin/register', cookie)).text()
    expect(html).not.toMatch(/<script>|<script [^>]*>[^<]|<style|style="|\son\w+="/i)
  })

  it('weighs under 200 KB compressed: a page and its assets, gzipped', async () => {
    const { cookie } = await signIn()
    const bodies = await Promise.all(
      ['/admin/register', '/admin/assets/console.css', '/admin/assets/console.js'].map(async (path) =>
        Buffer.from(await (await get(path, cookie)).arrayBuffer()),
      ),
    )
    const compressed = bodies.reduce((sum, body) => sum + gzipSync(body).byteLength, 0)
    expect(compressed).toBeLessThan(200_000)
  })
})
