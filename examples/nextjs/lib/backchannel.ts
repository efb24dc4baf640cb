// One store, key resolver and logout handler per server process, shared by every route. Next.js
// may load a module once per route bundle: the instances live on globalThis so that a session
// registered by /api/login is the one /api/backchannel-logout revokes.
import {
  createKeyResolver,
  createLogoutHandler,
  createLogoutVerifier,
  type OidcApp,
  type SessionStore,
} from '@backchannel/core'
import { memoryStore } from '@backchannel/unstorage/memory'

interface Backchannel {
  oidcApp: OidcApp
  store: SessionStore
  logout: (request: Request) => Promise<Response>
  /** A minimal session: the user by session id. Stands in for your own. */
  users: Map<string, string>
}

const shared = globalThis as { backchannel?: Backchannel }

/**
 * The application from explicit metadata (ISSUER, JWKS_URI, CLIENT_ID; DEVELOPMENT=true for an
 * http:// issuer), read at the first request: nothing is fetched while `next build` runs.
 */
export function backchannel(): Backchannel {
  shared.backchannel ??= create(process.env)
  return shared.backchannel
}

function create(env: NodeJS.ProcessEnv): Backchannel {
  const { ISSUER: issuer, JWKS_URI: jwksUri, CLIENT_ID: clientId } = env
  if (!issuer || !jwksUri || !clientId) throw new Error('set ISSUER, JWKS_URI and CLIENT_ID')
  const oidcApp: OidcApp = { kind: 'oidc', name: 'nextjs-demo', issuer, clientId, jwksUri }
  const store = memoryStore() // redisStore() across instances
  const keys = createKeyResolver({ fetchPolicy: { allowInsecure: env.DEVELOPMENT === 'true' } })
  const logout = createLogoutHandler({
    app: oidcApp.name,
    apps: { get: async (name) => (name === oidcApp.name ? oidcApp : undefined) },
    verifier: createLogoutVerifier({ keys }),
    revoker: store, // also where jtis are claimed, in the same write as the revocation
  })
  return { oidcApp, store, logout, users: new Map() }
}
