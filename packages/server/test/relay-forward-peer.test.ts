/**
 * `forward` relays to a peer, for real: Express applications using express-openid-connect's own
 * back-channel logout route sign users in at oidc-provider (login, consent, code exchange, driven
 * with fetch and a cookie jar) with the same client as the gateway's application. The provider's
 * client points its back-channel logout URL at the gateway (`backchannel serve` in a child
 * process), so a sign-out at the provider reaches the applications only through the gateway's relay.
 */
import { type DevIdp, startDevIdp } from 'dev-idp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type GatewayProcess, startGateway } from './fixtures/gateway-process.js'
import { listenOidcExpress, type OidcExpress } from './fixtures/oidc-express.js'

const CLIENT_SECRET = 'relay-peer-client-secret-0123456789abcdef'

let gateway: GatewayProcess
let provider: DevIdp
/** The wiki runs one instance; the shop two replicas, each with its own in-memory logout store. */
let wiki: OidcExpress
let shop: OidcExpress[]

beforeAll(async () => {
  gateway = await startGateway()
  const listen = (clientId: string) =>
    listenOidcExpress({ clientId, clientSecret: CLIENT_SECRET, cookieSecret: `${clientId}-cookie-secret-0123456789` })
  ;[wiki, ...shop] = await Promise.all([listen('wiki'), listen('shop'), listen('shop')])
  const client = (clientId: string, apps: OidcExpress[]) => ({
    client_id: clientId,
    client_secret: CLIENT_SECRET,
    token_endpoint_auth_method: 'client_secret_basic' as const,
    redirect_uris: apps.map((app) => `${app.url}/callback`),
    backchannel_logout_uri: `${gateway.url}/auth/logout/${clientId}`,
  })
  provider = await startDevIdp({ clients: [client('wiki', [wiki]), client('shop', shop)] })
  for (const app of [wiki, ...shop]) app.start(provider.issuer)
  for (const [name, apps] of [
    ['wiki', [wiki]],
    ['shop', shop],
  ] as const) {
    await gateway.admin.apps.create.mutate({
      name,
      issuer: provider.issuer,
      clientId: name,
      relays: apps.map((app) => ({ url: `${app.url}/backchannel-logout`, mode: 'forward' as const })),
    })
  }
})
afterAll(async () => {
  await Promise.all([wiki?.close(), ...(shop ?? []).map((app) => app.close()), provider?.close()])
  expect(await gateway?.stop()).toBe(0)
})

/** One browser: a cookie jar shared by every host on 127.0.0.1 (cookies ignore ports), redirects followed by hand. */
function browser() {
  const jar = new Map<string, string>()
  async function request(url: string, init: RequestInit = {}, keepCookies = true): Promise<Response> {
    const cookie = [...jar].map(([name, value]) => `${name}=${value}`).join('; ')
    const res = await fetch(url, { ...init, redirect: 'manual', headers: { ...init.headers, cookie } })
    if (!keepCookies) return res
    for (const line of res.headers.getSetCookie()) {
      const pair = line.split(';')[0] as string
      const name = pair.slice(0, pair.indexOf('='))
      const value = pair.slice(pair.indexOf('=') + 1)
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(line)) jar.delete(name)
      else jar.set(name, value)
    }
    return res
  }
  const form = (url: string, fields: Record<string, string>) =>
    request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields),
    })
  return {
    request,
    /** Signs `login` in at `app` through the provider's login and consent pages; ends back at the app. */
    async signIn(app: OidcExpress, login: string) {
      let url = `${app.url}/login`
      let res = await request(url)
      for (let step = 0; step < 12; step++) {
        const location = res.headers.get('location')
        if (location) {
          url = new URL(location, url).href
          res = await request(url)
          continue
        }
        if (url.startsWith(app.url)) return // back at the application, signed in
        // A provider page: the login form, then the consent form.
        const prompt = /name="prompt" value="(\w+)"/.exec(await res.text())?.[1]
        if (prompt !== 'login' && prompt !== 'consent') throw new Error(`unexpected page at ${url}: ${res.status}`)
        res = await form(url, prompt === 'login' ? { prompt, login, password: 'any' } : { prompt })
      }
      throw new Error(`no sign-in after 12 steps, at ${url}`)
    },
    /** Signs out at the provider (RP-initiated logout's confirmation page, "Yes, sign me out"). */
    async signOutAtProvider() {
      const page = await (await request(`${provider.issuer}/session/end`)).text()
      const action = /action="([^"]+)"/.exec(page)?.[1]
      const xsrf = /name="xsrf" value="([^"]+)"/.exec(page)?.[1]
      if (!action || !xsrf) throw new Error('no logout form at the provider')
      const res = await form(new URL(action, provider.issuer).href, { xsrf, logout: 'yes' })
      expect(res.headers.get('location')).toMatch(/\/session\/end\/success$/)
    },
    /**
     * The status of GET /me with the jar's cookies, which it leaves as they are: an application that
     * finds the session logged out clears its cookie, and the other replica must be asked with it.
     */
    me: async (app: OidcExpress) => (await request(`${app.url}/me`, {}, false)).status,
  }
}

describe('a sign-out at oidc-provider, relayed by the gateway to express-openid-connect', () => {
  it("forwards the provider's logout to the application, whose session is gone", async () => {
    const alice = browser()
    const bob = browser()
    await alice.signIn(wiki, 'alice')
    await bob.signIn(wiki, 'bob')
    const res = await alice.request(`${wiki.url}/me`)
    expect(await res.json()).toMatchObject({ sub: 'alice', sid: expect.any(String) })

    await alice.signOutAtProvider()

    // The gateway answered the provider at once; the relay follows within moments.
    await expect.poll(() => alice.me(wiki), { timeout: 10_000 }).toBe(401)
    expect(await bob.me(wiki)).toBe(200)
    const deliveries = await gateway.admin.relays.list.query({ app: 'wiki' })
    expect(deliveries.map((d) => [d.url, d.mode, d.state, d.attempts, d.lastStatus])).toEqual([
      [`${wiki.url}/backchannel-logout`, 'forward', 'delivered', 1, 204],
    ])
  })

  it('forwards it to both replicas of a service behind one relay list: both lose the session', async () => {
    const [one, two] = shop as [OidcExpress, OidcExpress]
    const carol = browser()
    await carol.signIn(one, 'carol')
    // One session cookie, good at either replica (as behind a load balancer).
    expect([await carol.me(one), await carol.me(two)]).toEqual([200, 200])

    await carol.signOutAtProvider()

    await expect.poll(async () => [await carol.me(one), await carol.me(two)], { timeout: 10_000 }).toEqual([401, 401])
    const deliveries = await gateway.admin.relays.list.query({ app: 'shop' })
    expect(deliveries.map((d) => d.state)).toEqual(['delivered', 'delivered'])
  })
})
