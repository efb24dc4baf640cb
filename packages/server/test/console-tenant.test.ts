/**
 * The tenant space over real HTTP: an application's owner signs in to the console with its API
 * key, reaches its application alone (the operator's pages answer 403 with a sentence), its
 * console session ends when its key is rotated (on any instance sharing the store), and what it
 * does is audited as `owner:<app>`. And the owner's secret rotation, verified by real logouts
 * during and after the grace period.
 */
import { hashToken } from '@backchannel/admin'
import { mintLogoutToken } from '@backchannel/core/mint'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADMIN_TOKEN } from './fixtures/gateway-process.js'
import { type LoopbackGateway, startLoopbackGateway } from './fixtures/loopback-gateway.js'

let gw: LoopbackGateway
/** Seconds the gateway's clock runs ahead of the real one. */
let ahead = 0

beforeAll(async () => {
  gw = await startLoopbackGateway({ now: () => Date.now() / 1000 + ahead })
})
afterAll(async () => {
  await gw?.close()
})

function post(path: string, fields: Record<string, string>, cookie = '', base = gw.url) {
  return fetch(`${base}${path}`, {
    method: 'POST',
    body: new URLSearchParams(fields),
    redirect: 'manual',
    headers: { origin: base, 'sec-fetch-site': 'same-origin', ...(cookie ? { cookie } : {}) },
  })
}
const get = (path: string, cookie: string, base = gw.url) =>
  fetch(`${base}${path}`, { redirect: 'manual', headers: { cookie } })

/** Signs in with `token`: the cookie, where the console sent the browser, and the page's CSRF token. */
async function signIn(token: string, base = gw.url) {
  const res = await post('/admin/sign-in', { token }, '', base)
  expect(res.status).toBe(303)
  const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0] ?? ''
  const landing = res.headers.get('location') ?? ''
  const html = await (await get(landing, cookie, base)).text()
  return { cookie, landing, html, csrf: /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? '' }
}

/** A value of a `Copyable` on a page, by the input's id. */
const copyable = (html: string, id: string) => new RegExp(`id="${id}"[^>]*value="([^"]+)"`).exec(html)?.[1] ?? ''

const logout = (app: string, token: string) =>
  fetch(`${gw.url}/auth/logout/${app}`, { method: 'POST', body: new URLSearchParams({ logout_token: token }) })

describe('the tenant space', () => {
  it('an owner signs in with its API key and sees its application alone, with its logout URL', async () => {
    const { apiKey } = await gw.admin.apps.create.mutate({ name: 'shop' })
    await gw.admin.apps.create.mutate({ name: 'neighbour' })
    const { cookie, landing, html } = await signIn(apiKey)
    expect(landing).toBe('/admin/apps/shop')
    expect(copyable(html, 'logout-url')).toBe(`${gw.url}/auth/logout/shop`)
    expect(html).toContain('Read only: the operator changes them.')
    expect(html).not.toContain('action="/admin/apps/shop/update"')
    expect(html).not.toContain('neighbour')
    // The operator's links are absent: only its application, sessions, audit, relays, debugger.
    const nav = /<nav[^>]*>(.*?)<\/nav>/.exec(html)?.[1] ?? ''
    expect([...nav.matchAll(/href="([^"]+)"/g)].map((m) => m[1])).toEqual([
      '/admin/apps/shop',
      '/admin/sessions?app=shop',
      '/admin/audit?app=shop',
      '/admin/relays?app=shop',
      '/admin/debugger',
    ])
    // The store keeps the role, the application and the key's hash; never the key.
    const session = await gw.store.consoleSessions.get(hashToken(cookie.split('=')[1] ?? ''))
    expect(session).toMatchObject({ role: 'owner', app: 'shop', apiKeyHash: hashToken(apiKey) })
    expect(JSON.stringify(session)).not.toContain(apiKey)
    for (const path of ['/admin/audit', '/admin/relays', '/admin/sessions?app=shop', '/admin/debugger']) {
      const page = await get(path, cookie)
      expect(page.status, path).toBe(200)
      expect(await page.text(), path).not.toContain('neighbour')
    }
  })

  it("answers 403 with a sentence at the operator's URLs typed by hand, and changes nothing", async () => {
    const { apiKey } = await gw.admin.apps.create.mutate({ name: 'kiosk' })
    await gw.admin.apps.create.mutate({ name: 'other-kiosk' })
    const { cookie, csrf } = await signIn(apiKey)
    const before = JSON.stringify(await gw.admin.apps.list.query())
    for (const [method, path] of [
      ['GET', '/admin/apps'],
      ['GET', '/admin/register'],
      ['GET', '/admin/streams'],
      ['POST', '/admin/apps'],
      ['POST', '/admin/apps/kiosk/update'],
      ['POST', '/admin/streams/verify'],
    ]) {
      const res =
        method === 'GET'
          ? await get(path as string, cookie)
          : await post(path as string, { csrf, name: 'intruder', kind: 'hmac', 'policy.maxTokenAge': '5' }, cookie)
      expect(res.status, path).toBe(403)
      expect(await res.text(), path).toContain(
        "This page is the operator's: signed in with the API key of kiosk, you reach kiosk alone.",
      )
    }
    for (const [method, path] of [
      ['GET', '/admin/apps/other-kiosk'],
      ['POST', '/admin/apps/other-kiosk/rotate-secret'],
      ['POST', '/admin/apps/other-kiosk/rotate-api-key'],
    ]) {
      const res = method === 'GET' ? await get(path as string, cookie) : await post(path as string, { csrf }, cookie)
      expect(res.status, path).toBe(403)
      expect(await res.text(), path).toContain("This is another application's page")
    }
    // Through the pages that are its own, the API refuses another application, and the debugger too.
    const revoke = await post('/admin/sessions/revoke', { csrf, app: 'other-kiosk', sub: 'alice' }, cookie)
    expect(revoke.status).toBe(403)
    expect(await revoke.text()).toContain("an application's API key reaches only its own application")
    const debug = await post('/admin/debugger', { csrf, token: 'x.y.z', target: 'app:other-kiosk' }, cookie)
    expect(debug.status).toBe(400)
    expect(JSON.stringify(await gw.admin.apps.list.query())).toBe(before)
    expect(await gw.admin.audit.list.query({ app: 'other-kiosk', source: 'admin' })).toHaveLength(1) // its creation
  })

  it('rotating the API key ends the console session, on every instance sharing the store', async () => {
    const { apiKey } = await gw.admin.apps.create.mutate({ name: 'cafe' })
    // A second instance over the same store: sign in there, rotate here.
    const other = await startLoopbackGateway({ store: gw.store })
    try {
      const elsewhere = await signIn(apiKey, other.url)
      const { cookie, csrf } = await signIn(apiKey)
      const rotated = await post('/admin/apps/cafe/rotate-api-key', { csrf }, cookie)
      expect(rotated.status).toBe(200)
      const html = await rotated.text()
      const fresh = copyable(html, 'api-key')
      expect(fresh).toMatch(/^bck_/)
      expect(html).toContain('Sign in again with the new key')
      for (const [session, base] of [
        [cookie, gw.url],
        [elsewhere.cookie, other.url],
      ] as const) {
        const res = await get('/admin/apps/cafe', session, base)
        expect(res.status).toBe(303)
        expect(res.headers.get('location')).toBe('/admin/sign-in?ended=api-key')
        expect((await get('/admin/apps/cafe', session, base)).headers.get('location')).toBe('/admin/sign-in')
      }
      expect((await post('/admin/sign-in', { token: apiKey })).status).toBe(401)
      expect((await signIn(fresh)).landing).toBe('/admin/apps/cafe')
      // A rotation by the operator (the CLI, the API) ends it too.
      const again = await signIn(fresh, other.url)
      await gw.admin.apps.rotateApiKey.mutate({ name: 'cafe' })
      expect((await get('/admin/apps/cafe', again.cookie, other.url)).status).toBe(303)
      const records = await gw.admin.audit.list.query({ app: 'cafe', source: 'admin' })
      expect(records.map((r) => [r.action, r.actor])).toEqual([
        ['apps.rotateApiKey', 'admin'],
        ['apps.rotateApiKey', 'owner:cafe'],
        ['apps.create', 'admin'],
      ])
      expect(JSON.stringify(records)).not.toContain(fresh)
    } finally {
      await other.close()
    }
  })
})

describe("an owner's secret rotation", () => {
  it('the old secret verifies during the grace and not after; the new one verifies; audited as the owner', async () => {
    const { apiKey, secret: old } = await gw.admin.apps.create.mutate({ name: 'bakery' })
    for (const sessionId of ['s1', 's2', 's3']) {
      await gw.admin.sessions.register.mutate({ app: 'bakery', sessionId, sub: `user-${sessionId}` })
    }
    const { cookie, csrf } = await signIn(apiKey)
    const res = await post('/admin/apps/bakery/rotate-secret', { csrf, graceSeconds: '60' }, cookie)
    expect(res.status).toBe(200)
    const html = await res.text()
    const secret = copyable(html, 'secret')
    expect(secret).toMatch(/^bcs_/)
    expect(copyable(html, 'cli-line')).toContain(`--secret ${secret}`)

    // During the grace: both secrets verify.
    expect((await logout('bakery', await mintLogoutToken({ secret: old ?? '', sub: 'user-s1' }))).status).toBe(200)
    expect((await logout('bakery', await mintLogoutToken({ secret, sub: 'user-s2' }))).status).toBe(200)
    // After it (the gateway's clock 90 s on): the old one is refused, the new one verifies.
    ahead = 90
    try {
      const late = await logout('bakery', await mintLogoutToken({ secret: old ?? '', sub: 'user-s3' }))
      expect(late.status).toBe(400)
      expect((await logout('bakery', await mintLogoutToken({ secret, sub: 'user-s3' }))).status).toBe(200)
    } finally {
      ahead = 0
    }
    const states = await Promise.all(
      ['s1', 's2', 's3'].map(
        async (sessionId) => (await gw.admin.sessions.status.query({ app: 'bakery', sessionId })).state,
      ),
    )
    expect(states).toEqual(['revoked', 'revoked', 'revoked'])
    const [rotation] = await gw.admin.audit.list.query({ app: 'bakery', source: 'admin', limit: 1 })
    expect(rotation).toMatchObject({ action: 'apps.rotateSecret', actor: 'owner:bakery' })
    expect(JSON.stringify(await gw.admin.audit.list.query({ app: 'bakery' }))).not.toContain(secret)
  })
})

it('the admin token still signs in to the operator console', async () => {
  expect((await signIn(ADMIN_TOKEN)).landing).toBe('/admin/apps')
})
