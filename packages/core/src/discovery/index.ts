/**
 * OpenID Provider discovery for registering an OIDC application by its issuer URL. A subpath of
 * its own, so that the verifier alone does not load openid-client.
 *
 * @example
 * ```ts
 * import { discoverIssuer } from '@backchannel/core/discovery'
 *
 * const { issuer, jwksUri } = await discoverIssuer('https://id.example.com/realms/main', {
 *   clientId: 'wiki',
 * })
 * ```
 * @see https://openid.net/specs/openid-connect-discovery-1_0.html OpenID Connect Discovery 1.0
 * @module
 */
import * as client from 'openid-client'
import { createGuardedFetch, type IssuerFetchPolicy } from '../_internal/guarded-fetch.js'
import {
  BackchannelError,
  IssuerInsecure,
  IssuerMetadataInvalid,
  IssuerMismatch,
  IssuerTimeout,
  IssuerUnreachable,
  IssuerUrlInvalid,
} from '../errors.js'

export type { IssuerFetchPolicy } from '../_internal/guarded-fetch.js'

/** Options of {@link discoverIssuer}. */
export interface DiscoverOptions {
  /** The client id the application is registered with at the provider. */
  clientId: string
  /** What the gateway allows (insecure issuers, trusted hosts, timeout, size cap). */
  fetchPolicy?: IssuerFetchPolicy
}

/** What discovery keeps of an OpenID Provider. */
export interface DiscoveredIssuer {
  /** The issuer identifier, equal to the one registered. */
  issuer: string
  /** Where the provider publishes its signing keys. */
  jwksUri: string
  /** Signing algorithms the provider says it uses for ID tokens, when it says. */
  signingAlgorithms?: string[]
  /** Whether the provider says it supports back-channel logout (BCL §2.1). */
  backchannelLogoutSupported: boolean
  /** Whether the provider says it sends `sid` in logout tokens. */
  backchannelLogoutSessionSupported: boolean
}

/**
 * Fetches and checks an issuer's metadata. Refuses, with a coded reason, an issuer that is not
 * `https:` or resolves to a non-public address (unless the policy allows it), that redirects,
 * answers too slowly or too much, states another `issuer`, or publishes no `jwks_uri`.
 * @throws {IssuerRefused} a subclass naming the reason.
 */
export async function discoverIssuer(issuer: string, options: DiscoverOptions): Promise<DiscoveredIssuer> {
  const policy = options.fetchPolicy ?? {}
  const url = parseIssuer(issuer, policy)
  let metadata: client.ServerMetadata
  try {
    const config = await client.discovery(url, options.clientId, undefined, undefined, {
      [client.customFetch]: createGuardedFetch(policy) as client.CustomFetch,
      execute: policy.allowInsecure ? [client.allowInsecureRequests] : [],
      timeout: policy.timeout ?? 5,
    })
    metadata = config.serverMetadata()
  } catch (err) {
    throw explain(err)
  }
  if (metadata.issuer !== issuer) {
    throw new IssuerMismatch(
      `the provider states its issuer as ${JSON.stringify(metadata.issuer)}, not ${JSON.stringify(issuer)}: register it exactly as the provider states it`,
    )
  }
  if (typeof metadata.jwks_uri !== 'string') {
    throw new IssuerMetadataInvalid('the provider metadata has no jwks_uri')
  }
  parseUrl(metadata.jwks_uri, 'jwks_uri', policy)
  return {
    issuer,
    jwksUri: metadata.jwks_uri,
    signingAlgorithms: metadata.id_token_signing_alg_values_supported,
    backchannelLogoutSupported: metadata.backchannel_logout_supported === true,
    backchannelLogoutSessionSupported: metadata.backchannel_logout_session_supported === true,
  }
}

function parseIssuer(issuer: string, policy: IssuerFetchPolicy): URL {
  const url = parseUrl(issuer, 'the issuer', policy)
  if (url.search || url.hash || issuer.includes('#')) {
    throw new IssuerUrlInvalid('the issuer must not have a query or fragment')
  }
  return url
}

function parseUrl(value: string, what: string, policy: IssuerFetchPolicy): URL {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new IssuerUrlInvalid(`${what} is not an absolute URL`)
  }
  if (url.protocol !== 'https:' && !(policy.allowInsecure && url.protocol === 'http:')) {
    throw new IssuerInsecure(`${what} must be an https: URL (set BACKCHANNEL_ALLOW_INSECURE_ISSUERS for development)`)
  }
  return url
}

function explain(err: unknown): BackchannelError {
  if (err instanceof BackchannelError) return err
  // openid-client keeps the original failure as the cause; our guarded fetch's errors are coded.
  const cause = (err as { cause?: unknown } | null)?.cause
  if (cause instanceof BackchannelError) return cause
  const code = (err as { code?: unknown } | null)?.code
  switch (code) {
    case 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED':
      return new IssuerMismatch('the provider states another issuer than the one registered', { cause: err })
    case 'OAUTH_RESPONSE_IS_NOT_CONFORM':
      return new IssuerUnreachable('the discovery document did not answer 200', { cause: err })
    case 'OAUTH_TIMEOUT':
      return new IssuerTimeout('the discovery document did not arrive in time', { cause: err })
    case 'OAUTH_RESPONSE_IS_NOT_JSON':
    case 'OAUTH_PARSE_ERROR':
    case 'OAUTH_INVALID_RESPONSE':
      return new IssuerMetadataInvalid('the discovery document is not valid provider metadata', { cause: err })
    default:
      return new IssuerUnreachable('the discovery document could not be fetched', { cause: err })
  }
}
