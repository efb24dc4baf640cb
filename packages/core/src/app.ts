/**
 * What the verifier needs to know about an application: how its logout tokens are signed and
 * which claims it expects. The gateway keeps these in its app registry; an embedding
 * application can write one by hand.
 * @module
 */

/** Asymmetric JWS algorithms an OIDC application may pin. */
export type AsymmetricAlgorithm =
  | 'RS256'
  | 'RS384'
  | 'RS512'
  | 'PS256'
  | 'PS384'
  | 'PS512'
  | 'ES256'
  | 'ES384'
  | 'ES512'
  | 'EdDSA'
  | 'Ed25519'

/** MAC algorithms an HMAC application may pin. */
export type HmacAlgorithm = 'HS256' | 'HS384' | 'HS512'

/** Every algorithm an OIDC application may pin. `none` and `HS*` are never among them. */
export const ASYMMETRIC_ALGORITHMS: readonly AsymmetricAlgorithm[] = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
]

/** Every algorithm an HMAC application may pin. */
export const HMAC_ALGORITHMS: readonly HmacAlgorithm[] = ['HS256', 'HS384', 'HS512']

/** How strictly an application's logout tokens are checked, and how far a logout reaches. */
export interface LogoutPolicy {
  /** Oldest accepted token, in seconds after its `iat` (or, for HMAC tokens with no `iat`, the longest `exp` may lie ahead). Default 600. */
  maxTokenAge?: number
  /** Allowed clock difference with the issuer, in seconds. Default 60. */
  clockTolerance?: number
  /**
   * Accept OIDC tokens without `exp` (Ory Hydra, authentik < 2025.8.2, Keycloak before
   * Dec 2023, oidc-provider < 8.8.1); such a token is then bounded by `iat` + `maxTokenAge`.
   * Default `false`.
   */
  allowMissingExp?: boolean
  /** `"session"` (default): a `sid` logout ends that session. `"user"`: it ends every session of its user. */
  logoutScope?: LogoutScope
  /** HMAC apps: the `aud` their tokens must carry. Unchecked when absent. */
  audience?: string
  /** HMAC apps: the `iss` their tokens must carry. Unchecked when absent. */
  issuer?: string
  /**
   * Milliseconds the identity provider's request waits for the first attempts of its relays
   * before it is answered, so that a post-logout redirect does not beat them. Default 0, at most 5000.
   */
  relayWaitMs?: number
}

/** What a `sid` logout ends: that session, or every session of its user. */
export type LogoutScope = 'session' | 'user'

/** How a relay receives a logout (design.md, "Relays"). */
export type RelayMode = 'forward' | 'sign' | 'hmac'

/** One service or replica an application's logouts are relayed to. */
export interface Relay {
  /** Where the logout token is POSTed (`https:` and a public address unless insecure issuers are allowed). */
  url: string
  mode: RelayMode
  /** The `aud` of tokens the gateway signs for this relay; required for `sign`. */
  clientId?: string
}

/** The policy with every default filled in. */
export type ResolvedPolicy = Required<Omit<LogoutPolicy, 'audience' | 'issuer'>> &
  Pick<LogoutPolicy, 'audience' | 'issuer'>

/** An application whose logout tokens are signed by an OpenID Provider. */
export interface OidcApp {
  kind: 'oidc'
  /** The slug in the logout URL (`/auth/logout/:app`). */
  name: string
  /** The issuer identifier, exactly as the provider states it. */
  issuer: string
  /** The client id the provider puts in `aud`. */
  clientId: string
  /** Where the provider publishes its keys (from discovery). */
  jwksUri: string
  /** Pinned algorithms; default `["RS256"]`. */
  algorithms?: readonly AsymmetricAlgorithm[]
  policy?: LogoutPolicy
  /** Where accepted logouts are relayed (at most 20); the revoker writes their deliveries. */
  relays?: readonly Relay[]
}

/** A secret an HMAC application signs with. */
export interface HmacSecret {
  /** The raw key bytes (at least 32). */
  key: Uint8Array
  /** Seconds since epoch after which this key no longer verifies (a rotated-out secret). */
  notAfter?: number
}

/** An application that signs its own logout tokens with a secret the gateway issued. */
export interface HmacApp {
  kind: 'hmac'
  /** The slug in the logout URL (`/auth/logout/:app`). */
  name: string
  /** The current secret first; a rotated-out secret with its `notAfter`. */
  secrets: readonly HmacSecret[]
  /** Pinned algorithms; default `["HS256","HS384","HS512"]`. */
  algorithms?: readonly HmacAlgorithm[]
  policy?: LogoutPolicy
  /** Where accepted logouts are relayed (at most 20); the revoker writes their deliveries. */
  relays?: readonly Relay[]
}

/** Either kind of application. */
export type AppConfig = OidcApp | HmacApp

/** Fills in the defaults of a {@link LogoutPolicy}. */
export function resolvePolicy(policy: LogoutPolicy = {}): ResolvedPolicy {
  return {
    maxTokenAge: policy.maxTokenAge ?? 600,
    clockTolerance: policy.clockTolerance ?? 60,
    allowMissingExp: policy.allowMissingExp ?? false,
    logoutScope: policy.logoutScope ?? 'session',
    audience: policy.audience,
    issuer: policy.issuer,
    relayWaitMs: policy.relayWaitMs ?? 0,
  }
}

/**
 * The issuer an application's sessions are kept under: an OIDC app's issuer, an HMAC app's
 * configured `policy.issuer`, or `""` for an HMAC app that sets none (its tokens' `iss` is then
 * unchecked, so it is not trusted as a key).
 */
export function sessionIssuer(app: AppConfig): string {
  return app.kind === 'oidc' ? app.issuer : (app.policy?.issuer ?? '')
}

/**
 * Looks up applications by name for the logout flow. The gateway's store implements it; an
 * embedding application can pass a `Map` wrapper.
 *
 * @example
 * ```ts
 * const apps: AppRegistry = { get: async (name) => myApps.get(name) }
 * ```
 */
export interface AppRegistry {
  /**
   * The application registered as `name`, or `undefined`.
   * @throws {StoreUnavailable} when the registry cannot be read (the flow answers 503).
   */
  get(name: string): Promise<AppConfig | undefined>
}
