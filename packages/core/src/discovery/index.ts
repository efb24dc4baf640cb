/**
 * OpenID Provider discovery for registering an OIDC application by its issuer URL, and Node's
 * guarded fetch (`createGuardedFetch`: resolved addresses checked at connect time, forward
 * proxies). The Node-only subpath: the main entry runs on any runtime with web crypto and `fetch`,
 * and does not load openid-client nor `node:` modules.
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
import { checkFetchTarget, createGuardedFetch } from '../_internal/guarded-fetch.js'
import type { IssuerFetchPolicy } from '../_internal/issuer-fetch.js'
import {
  BackchannelError,
  IssuerInsecure,
  IssuerMetadataInvalid,
  IssuerMismatch,
  IssuerTimeout,
  IssuerUnreachable,
  IssuerUrlInvalid,
} from '../errors.js'

/** The fetch discovery and key fetches use, for the gateway's other outbound requests (relays). */
/**
 * Refuses, before anything connects, a URL the gateway would not fetch or post to under a
 * policy: not `https:` (`ERR_ISSUER_INSECURE`), or at a non-public address that is neither
 * allowed nor trusted (`ERR_ISSUER_ADDRESS_FORBIDDEN`); `what` names it in the message.
 *
 * @example
 * ```ts
 * await checkFetchTarget(new URL('https://10.0.0.5/bcl'), 'relay', {}) // throws ERR_ISSUER_ADDRESS_FORBIDDEN
 * ```
 */
export { checkFetchTarget, createGuardedFetch } from '../_internal/guarded-fetch.js'
export type { GuardedFetch, IssuerFetchPolicy } from '../_internal/issuer-fetch.js'

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
    throw explain(err, discoveryUrl(url))
  }
  if (metadata.issuer !== issuer) {
    throw new IssuerMismatch(
      `${discoveryUrl(url)} states its issuer as ${JSON.stringify(metadata.issuer)}, not ${JSON.stringify(issuer)}: register it exactly as the provider states it`,
    )
  }
  if (typeof metadata.jwks_uri !== 'string') {
    throw new IssuerMetadataInvalid(`the provider metadata at ${discoveryUrl(url)} has no jwks_uri`)
  }
  // The keys are fetched at logout time: a jwks_uri the policy refuses must fail registration now.
  await checkFetchTarget(parseUrl(metadata.jwks_uri, 'jwks_uri'), 'jwks_uri', policy)
  return {
    issuer,
    jwksUri: metadata.jwks_uri,
    signingAlgorithms: metadata.id_token_signing_alg_values_supported,
    backchannelLogoutSupported: metadata.backchannel_logout_supported === true,
    backchannelLogoutSessionSupported: metadata.backchannel_logout_session_supported === true,
  }
}

/** What discovery keeps of a Shared Signals transmitter. */
export interface DiscoveredTransmitter {
  /** The transmitter's issuer, equal to the one registered: every SET's `iss`. */
  issuer: string
  /** Where the transmitter publishes the keys its SETs are signed with. */
  jwksUri: string
  /** The delivery methods it supports (`urn:ietf:rfc:8935` for push), when it says. */
  deliveryMethods?: string[]
  /** Where streams are created and changed (SSF 1.0 §8.1.1), when it says. */
  configurationEndpoint?: string
  /** Where a verification event is requested (SSF 1.0 §8.1.4), when it says. */
  verificationEndpoint?: string
}

/**
 * Fetches and checks a Shared Signals transmitter's metadata (`/.well-known/ssf-configuration`)
 * under the same rules as {@link discoverIssuer}: the policy's address rules, no redirects, a
 * size cap, the stated `issuer` exactly the registered one, and a `jwks_uri` the policy allows.
 * @throws {IssuerRefused} a subclass naming the reason.
 * @see https://openid.net/specs/openid-sharedsignals-framework-1_0.html SSF 1.0 §7.2
 *
 * @example
 * ```ts
 * import { discoverTransmitter } from '@backchannel/core/discovery'
 * const { jwksUri } = await discoverTransmitter('https://ssf.example.com', {})
 * ```
 */
export async function discoverTransmitter(issuer: string, policy: IssuerFetchPolicy): Promise<DiscoveredTransmitter> {
  const url = parseIssuer(issuer, policy)
  // SSF 1.0 §7.2.1: the well-known segment goes between the host and the issuer's path.
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '')
  const where = `${url.origin}/.well-known/ssf-configuration${path}`
  let metadata: Record<string, unknown>
  try {
    const response = await createGuardedFetch(policy)(where, { headers: { accept: 'application/json' } })
    if (response.status !== 200)
      throw new IssuerUnreachable(`${where} did not answer 200 (it answered ${response.status})`)
    metadata = (await response.json()) as Record<string, unknown>
  } catch (err) {
    if (err instanceof BackchannelError) throw err
    throw new IssuerMetadataInvalid(`${where} is not valid transmitter metadata`, { cause: err })
  }
  if (typeof metadata !== 'object' || metadata === null) {
    throw new IssuerMetadataInvalid(`${where} is not a JSON object`)
  }
  if (metadata.issuer !== issuer) {
    throw new IssuerMismatch(
      `${where} states its issuer as ${JSON.stringify(metadata.issuer)}, not ${JSON.stringify(issuer)}: register it exactly as the transmitter states it`,
    )
  }
  if (typeof metadata.jwks_uri !== 'string')
    throw new IssuerMetadataInvalid(`the transmitter metadata at ${where} has no jwks_uri`)
  await checkFetchTarget(parseUrl(metadata.jwks_uri, 'jwks_uri'), 'jwks_uri', policy)
  const text = (value: unknown) => (typeof value === 'string' ? value : undefined)
  const methods = metadata.delivery_methods_supported
  return {
    issuer,
    jwksUri: metadata.jwks_uri,
    ...(Array.isArray(methods) ? { deliveryMethods: methods.filter((m) => typeof m === 'string') } : {}),
    ...(text(metadata.configuration_endpoint) ? { configurationEndpoint: text(metadata.configuration_endpoint) } : {}),
    ...(text(metadata.verification_endpoint) ? { verificationEndpoint: text(metadata.verification_endpoint) } : {}),
  }
}

function parseIssuer(issuer: string, policy: IssuerFetchPolicy): URL {
  const url = parseUrl(issuer, 'the issuer')
  if (url.protocol !== 'https:' && !(policy.allowInsecure && url.protocol === 'http:')) {
    throw new IssuerInsecure(
      `the issuer must be an https: URL (set BACKCHANNEL_ALLOW_INSECURE_ISSUERS for development)`,
    )
  }
  if (url.search || url.hash || issuer.includes('#')) {
    throw new IssuerUrlInvalid('the issuer must not have a query or fragment')
  }
  return url
}

/** An absolute `http(s):` URL; anything else says what is missing rather than suggesting the insecure flag. */
function parseUrl(value: string, what: string): URL {
  let url: URL | undefined
  try {
    url = new URL(value)
  } catch {}
  // `id.example.com:8443` parses, with the scheme `id.example.com:`.
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:') || !url.host) {
    throw new IssuerUrlInvalid(
      `${what} ${JSON.stringify(value)} is not an absolute URL with a scheme: write it as https://host/path`,
    )
  }
  return url
}

/** Where openid-client fetches an issuer's metadata (OIDC Discovery §4). */
function discoveryUrl(issuer: URL): string {
  return `${issuer.href.replace(/\/$/, '')}/.well-known/openid-configuration`
}

function explain(err: unknown, where: string): BackchannelError {
  if (err instanceof BackchannelError) return err
  // openid-client keeps the original failure as the cause; our guarded fetch's errors are coded.
  const cause = (err as { cause?: unknown } | null)?.cause
  if (cause instanceof BackchannelError) return cause
  const { code, message } = (err ?? {}) as { code?: unknown; message?: unknown }
  const detail = (value: unknown) => (typeof value === 'string' && value ? `: ${value}` : '')
  switch (code) {
    case 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED': {
      const stated = (cause as { body?: { issuer?: unknown } } | null)?.body?.issuer
      const which = stated === undefined ? 'another issuer' : `its issuer as ${JSON.stringify(stated)}`
      return new IssuerMismatch(`${where} states ${which}, not the one registered`, { cause: err })
    }
    case 'OAUTH_RESPONSE_IS_NOT_CONFORM': {
      const status = (cause as { status?: unknown } | null)?.status ?? (err as { status?: unknown }).status
      const answered = typeof status === 'number' ? ` (it answered ${status})` : ''
      return new IssuerUnreachable(`${where} did not answer 200${answered}`, { cause: err })
    }
    case 'OAUTH_TIMEOUT':
      return new IssuerTimeout(`${where} did not answer in time`, { cause: err })
    case 'OAUTH_RESPONSE_IS_NOT_JSON':
    case 'OAUTH_PARSE_ERROR':
    case 'OAUTH_INVALID_RESPONSE':
      return new IssuerMetadataInvalid(`${where} is not valid provider metadata${detail(message)}`, { cause: err })
    default:
      return new IssuerUnreachable(`${where} could not be fetched${detail(message)}`, { cause: err })
  }
}

/**
 * What a transmitter's error answer says, for a message: its `err` (RFC 8935/8936) or `error`
 * (OAuth), and its `description` or `error_description`, as `err: description`, at most 300
 * characters; `''` when it says neither. Only these fields are read: a body echoing the request
 * would show the stream's new authorization header.
 *
 * @example
 * ```ts
 * transmitterError({ err: 'authentication_failed' }) // 'authentication_failed'
 * transmitterError({ error: 'invalid_token', error_description: 'expired' }) // 'invalid_token: expired'
 * ```
 */
export function transmitterError(body: unknown): string {
  if (typeof body !== 'object' || body === null) return ''
  const { err, error, description, error_description } = body as Record<string, unknown>
  return [err ?? error, description ?? error_description]
    .filter((part) => typeof part === 'string')
    .join(': ')
    .slice(0, 300)
}
