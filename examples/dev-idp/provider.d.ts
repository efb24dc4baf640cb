/** A client of the development provider (oidc-provider client metadata). */
export interface DevIdpClient {
  client_id: string
  /** Where the provider posts logout tokens, e.g. http://localhost:3000/auth/logout/demo. */
  backchannel_logout_uri: string
  /** Send `sid` in logout tokens (default true); false sends sub-only tokens. */
  backchannel_logout_session_required?: boolean
  /** The signing algorithm of ID and logout tokens (default RS256). */
  id_token_signed_response_alg?: 'RS256' | 'ES256'
  /** Where a sign-in may return (default http://localhost/callback), for a real login flow. */
  redirect_uris?: string[]
  /** A confidential client's secret, with `token_endpoint_auth_method: 'client_secret_basic'`. */
  client_secret?: string
  /** Default `none` (a public client). */
  token_endpoint_auth_method?: 'none' | 'client_secret_basic' | 'client_secret_post'
}

export interface DevIdpOptions {
  /** Default 0: a free port. */
  port?: number
  /** Where it listens. Default 127.0.0.1. */
  host?: string
  /** The host name in the issuer URL. Default: `host`. */
  issuerHost?: string
  clients: DevIdpClient[]
}

export interface DevIdp {
  /** The issuer URL, e.g. http://127.0.0.1:4000. */
  issuer: string
  /** Makes the provider send client `clientId` a back-channel logout for `sub`'s session `sid`. */
  logout(clientId: string, sub: string, sid: string): Promise<void>
  close(): Promise<void>
}

export function startDevIdp(options: DevIdpOptions): Promise<DevIdp>

/**
 * For an app's tests: an `http.Server` listening on a free loopback port with no request handler
 * yet (add one with `server.on('request', …)`), its URL, and a provider whose client `clientId`
 * sends its logouts to `url + path` (default `/backchannel-logout`).
 */
export function startWithDevIdp(options: {
  clientId: string
  path?: string
}): Promise<{ server: import('node:http').Server; url: string; idp: DevIdp }>
