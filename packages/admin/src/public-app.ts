/**
 * What the admin API shows of an application: never a secret, never the API key hash.
 * @module
 */
import type { LogoutPolicy, Relay } from '@backchannel/core'
import type { AppRecord } from '@backchannel/unstorage'
import { wholeSeconds } from './_internal/public-records.js'

/** An application as `apps.list` and `apps.get` return it. */
export interface PublicApp {
  name: string
  kind: 'oidc' | 'hmac'
  issuer?: string
  clientId?: string
  jwksUri?: string
  algorithms: readonly string[]
  policy: LogoutPolicy
  /** Where its logouts are relayed; an `hmac` relay's secret is never shown here. */
  relays?: Relay[]
  /** HMAC apps: seconds since epoch until which the previous secret still verifies. */
  previousSecretValidUntil?: number
  /** Seconds since epoch, whole. */
  createdAt: number
  /** Seconds since epoch, whole. */
  updatedAt: number
}

/** The public view of a stored application (used by the routers; not exported by the package). */
export function publicApp(app: AppRecord): PublicApp {
  const common = {
    name: app.name,
    kind: app.kind,
    policy: app.policy ?? {},
    ...(app.relays?.length
      ? { relays: app.relays.map(({ url, mode, clientId }) => ({ url, mode, ...(clientId ? { clientId } : {}) })) }
      : {}),
    createdAt: wholeSeconds(app.createdAt),
    updatedAt: wholeSeconds(app.updatedAt),
  }
  if (app.kind === 'oidc') {
    const { issuer, clientId, jwksUri } = app
    return { ...common, issuer, clientId, jwksUri, algorithms: app.algorithms ?? ['RS256'] }
  }
  const previous = app.secrets[1]?.notAfter
  return {
    ...common,
    algorithms: app.algorithms ?? ['HS256', 'HS384', 'HS512'],
    ...(previous === undefined ? {} : { previousSecretValidUntil: wholeSeconds(previous) }),
  }
}
