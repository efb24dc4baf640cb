// Back-channel logout in Hono (or any fetch-style framework) with core's
// `(request: Request) => Promise<Response>` handler.
import { createKeyResolver, createLogoutHandler, createLogoutVerifier } from '@backchannel/core'
import { discoverIssuer } from '@backchannel/core/discovery'
import { memoryStore } from '@backchannel/unstorage/memory'
import { Hono } from 'hono'
import { getCookie, setCookie } from 'hono/cookie'

export async function createApp({ issuer, clientId, development = false }) {
  const fetchPolicy = { allowInsecure: development }
  const { jwksUri } = await discoverIssuer(issuer, { clientId, fetchPolicy })
  const oidcApp = { kind: 'oidc', name: 'hono-demo', issuer, clientId, jwksUri }
  const store = memoryStore()

  // The whole back-channel logout endpoint:
  const logout = createLogoutHandler({
    app: oidcApp.name,
    apps: { get: async (name) => (name === oidcApp.name ? oidcApp : undefined) },
    verifier: createLogoutVerifier({ keys: createKeyResolver({ fetchPolicy }) }),
    revoker: store, // also where jtis are claimed, in the same write as the revocation
  })
  const app = new Hono()
  app.post('/backchannel-logout', (c) => logout(c.req.raw))

  // A minimal session: the session id in a cookie, the user in a map. Stands in for your own.
  const users = new Map()
  app.get('/login', async (c) => {
    const { sub, sid } = c.req.query()
    const sessionId = crypto.randomUUID()
    users.set(sessionId, sub)
    await store.register({ app: oidcApp.name, iss: issuer, sessionId, sub, sid })
    setCookie(c, 'session', sessionId, { httpOnly: true, sameSite: 'Lax' })
    return c.json({ user: sub })
  })
  app.get('/me', async (c) => {
    const sessionId = getCookie(c, 'session') ?? ''
    const user = users.get(sessionId)
    if (!user || (await store.status(oidcApp.name, sessionId)).state !== 'active') {
      users.delete(sessionId)
      return c.json({ error: 'not signed in' }, 401)
    }
    return c.json({ user })
  })
  return app
}
