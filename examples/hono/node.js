// The app on Node: discovery finds the keys' URL, and Node's guarded fetch checks every address
// it connects to (and goes through HTTPS_PROXY when set).
import { createKeyResolver, proxyFromEnv } from '@backchannel/core'
import { createGuardedFetch, discoverIssuer } from '@backchannel/core/discovery'
import { memoryStore } from '@backchannel/unstorage/memory'
import { createApp } from './app.js'

/** The Hono app for an issuer, discovered; `development` allows an http:// issuer on loopback. */
export async function createNodeApp({ issuer, clientId, development = false }) {
  const fetchPolicy = { allowInsecure: development, proxy: proxyFromEnv() }
  const { jwksUri } = await discoverIssuer(issuer, { clientId, fetchPolicy })
  return createApp({
    oidcApp: { kind: 'oidc', name: 'hono-demo', issuer, clientId, jwksUri },
    store: memoryStore(),
    keys: createKeyResolver({ fetch: createGuardedFetch(fetchPolicy) }),
  })
}
