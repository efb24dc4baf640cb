// A Fastify application that ends its sessions when the identity provider sends a back-channel
// logout: core's processLogout takes the raw form body and returns the answer to send.
import { createKeyResolver, createLogoutVerifier, MAX_BODY_BYTES, processLogout } from '@backchannel/core'
import { createGuardedFetch, discoverIssuer } from '@backchannel/core/discovery'
import { memoryStore } from '@backchannel/unstorage/memory'
import Fastify from 'fastify'

/**
 * @param {object} options
 * @param {string} options.issuer    the OpenID Provider
 * @param {string} options.clientId  this application's client id there
 * @param {boolean} [options.development]  allow an http:// issuer on localhost
 * @param {import('fastify').FastifyServerOptions} [options.fastify]
 */
export async function createApp({ issuer, clientId, development = false, fastify = {} }) {
  const fetchPolicy = { allowInsecure: development }
  const { jwksUri } = await discoverIssuer(issuer, { clientId, fetchPolicy })
  const oidcApp = { kind: 'oidc', name: 'fastify-demo', issuer, clientId, jwksUri }
  const store = memoryStore() // redisStore() across instances
  const logoutDeps = {
    apps: { get: async (name) => (name === oidcApp.name ? oidcApp : undefined) },
    // Node's guarded fetch: every address the key fetch connects to is checked.
    verifier: createLogoutVerifier({ keys: createKeyResolver({ fetch: createGuardedFetch(fetchPolicy) }) }),
    revoker: store, // also where jtis are claimed, in the same write as the revocation
  }
  const app = Fastify(fastify)

  // The back-channel logout URL to give the provider. Its own scope takes any body as text, so
  // core (not Fastify's 415) says what is wrong with a bad content type.
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers()
    scope.addContentTypeParser('*', { parseAs: 'string', bodyLimit: MAX_BODY_BYTES }, (_req, body, done) =>
      done(null, body),
    )
    scope.post('/backchannel-logout', async (req, reply) => {
      const body = typeof req.body === 'string' ? req.body : ''
      const outcome = await processLogout(
        { app: oidcApp.name, body, contentType: req.headers['content-type'] },
        logoutDeps,
      )
      reply.code(outcome.status).headers(outcome.headers)
      return outcome.body ? JSON.stringify(outcome.body) : ''
    })
  })

  // A minimal session: the session id in a cookie, the user in a map. Stands in for your own.
  const users = new Map()
  const sessionOf = (req) => /(?:^|;\s*)session=([^;]+)/.exec(req.headers.cookie ?? '')?.[1] ?? ''
  app.get('/login', async (req, reply) => {
    const { sub, sid } = req.query
    const sessionId = crypto.randomUUID()
    users.set(sessionId, sub)
    await store.register({ app: oidcApp.name, iss: issuer, sessionId, sub, sid })
    reply.header('set-cookie', `session=${sessionId}; HttpOnly; SameSite=Lax; Path=/`)
    return { user: sub }
  })
  app.get('/me', async (req, reply) => {
    const sessionId = sessionOf(req)
    const user = users.get(sessionId)
    if (!user || (await store.status(oidcApp.name, sessionId)).state !== 'active') {
      users.delete(sessionId)
      return reply.code(401).send({ error: 'not signed in' })
    }
    return { user }
  })
  return app
}
