// Back-channel logout in Hono (or any fetch-style framework) with core's
// `(request: Request) => Promise<Response>` handler. This file imports only @backchannel/core and
// hono, so it runs unchanged on Node (server.js), Bun (bun.js), Deno (deno.js) and Cloudflare
// Workers (worker.js); each of those picks the store and how the application is registered.
import { createLogoutHandler, createLogoutVerifier } from '@backchannel/core'
import { Hono } from 'hono'
import { getCookie, setCookie } from 'hono/cookie'

/**
 * @param {object} options
 * @param {import('@backchannel/core').OidcApp} options.oidcApp the application, with its issuer's jwksUri
 * @param {import('@backchannel/core').SessionStore & import('@backchannel/core').ReplayStore} options.store
 * @param {import('@backchannel/core').KeyResolver} options.keys one per process: the cached key sets
 */
export function createApp({ oidcApp, store, keys }) {
  // The whole back-channel logout endpoint:
  const logout = createLogoutHandler({
    app: oidcApp.name,
    apps: { get: async (name) => (name === oidcApp.name ? oidcApp : undefined) },
    verifier: createLogoutVerifier({ keys }),
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
    await store.register({ app: oidcApp.name, iss: oidcApp.issuer, sessionId, sub, sid })
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

/**
 * The application from explicit metadata, for runtimes without discovery (Bun, Deno, Workers):
 * ISSUER, JWKS_URI (the provider's metadata says it), CLIENT_ID, and ALGORITHMS (comma-separated).
 * @param {Record<string, string | undefined>} env
 */
export function appFromEnv(env) {
  for (const name of ['ISSUER', 'JWKS_URI', 'CLIENT_ID']) if (!env[name]) throw new Error(`${name} is not set`)
  return {
    kind: 'oidc',
    name: 'hono-demo',
    issuer: env.ISSUER,
    clientId: env.CLIENT_ID,
    jwksUri: env.JWKS_URI,
    algorithms: (env.ALGORITHMS ?? 'RS256').split(','),
  }
}
