// An Express application with its own express-session sessions that ends them when the identity
// provider sends a back-channel logout — @backchannel/core and @backchannel/unstorage in
// process, no gateway server. Behind a gateway, the same route takes the provider's token as the
// gateway forwards it to each replica (a `forward` relay).
import { createKeyResolver, createLogoutVerifier, processLogout } from '@backchannel/core'
import { createGuardedFetch, discoverIssuer } from '@backchannel/core/discovery'
import { memoryStore } from '@backchannel/unstorage/memory'
import express from 'express'
import session from 'express-session'

/**
 * @param {object} options
 * @param {string} options.issuer    the OpenID Provider
 * @param {string} options.clientId  this application's client id there
 * @param {boolean} [options.development]  allow an http:// issuer on localhost
 */
export async function createApp({ issuer, clientId, development = false }) {
  const fetchPolicy = { allowInsecure: development }
  const { jwksUri } = await discoverIssuer(issuer, { clientId, fetchPolicy })
  const oidcApp = { kind: 'oidc', name: 'express-demo', issuer, clientId, jwksUri }
  // Sessions known to Backchannel, by express-session id. Use redisStore() across instances.
  const store = memoryStore()
  const logoutDeps = {
    apps: { get: async (name) => (name === oidcApp.name ? oidcApp : undefined) },
    // Node's guarded fetch: every address the key fetch connects to is checked.
    verifier: createLogoutVerifier({ keys: createKeyResolver({ fetch: createGuardedFetch(fetchPolicy) }) }),
    revoker: store, // also where jtis are claimed, in the same write as the revocation
  }

  const app = express()

  // The back-channel logout URL to give the provider. Raw form body: core parses it.
  app.post('/backchannel-logout', express.text({ type: '*/*', limit: '16kb' }), async (req, res) => {
    const body = typeof req.body === 'string' ? req.body : ''
    const outcome = await processLogout({ app: oidcApp.name, body, contentType: req.get('content-type') }, logoutDeps)
    res.status(outcome.status).set(outcome.headers)
    res.send(outcome.body ? JSON.stringify(outcome.body) : '')
  })

  app.use(session({ secret: 'replace-me-in-production', resave: false, saveUninitialized: false }))

  // Every request: a session that a logout ended is signed out here too.
  app.use(async (req, res, next) => {
    if (!req.session.user) return next()
    const { state } = await store.status(oidcApp.name, req.sessionID)
    if (state === 'active') return next()
    req.session.destroy(() => res.status(401).json({ error: 'signed out at the identity provider' }))
  })

  // Stands in for your OIDC callback: once the ID token is verified, keep its sub and sid and
  // register the session with Backchannel.
  app.get('/login', async (req, res) => {
    const { sub, sid } = req.query
    req.session.user = sub
    await store.register({ app: oidcApp.name, iss: issuer, sessionId: req.sessionID, sub, sid })
    res.json({ user: sub })
  })

  app.get('/me', (req, res) => {
    if (!req.session.user) return res.status(401).json({ error: 'not signed in' })
    res.json({ user: req.session.user })
  })

  return app
}
