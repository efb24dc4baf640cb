/**
 * The rules for requests to issuers, and the runtime-neutral fetch that applies what the web
 * `fetch` lets it: `https:` only, no address literal or `localhost` name that is not public, no
 * redirects, a timeout and a size cap. What it cannot do is check the address a host name
 * resolves to, nor go through a forward proxy: guarded-fetch.ts does both, on Node.
 * @module
 */
import {
  IssuerAddressForbidden,
  IssuerInsecure,
  IssuerRedirect,
  IssuerResponseTooLarge,
  IssuerTimeout,
  IssuerUnreachable,
  ProxyInvalid,
} from '../errors.js'
import { concat } from './bytes.js'
import { ipFamily, isForbiddenAddress } from './ip.js'
import type { OutboundProxy } from './proxy-settings.js'

/** Rules for requests to issuers, set once for the whole gateway. */
export interface IssuerFetchPolicy {
  /** Allow `http:` URLs and loopback/private addresses (development and tests). Default `false`. */
  allowInsecure?: boolean
  /** Hosts allowed although they resolve to a private address (intranet IdPs); still `https:` only. */
  trustedHosts?: readonly string[]
  /** Seconds to wait for a whole response. Default 5. */
  timeout?: number
  /** Largest accepted response body, in bytes. Default 512 KiB. */
  maxBytes?: number
  /**
   * Forward proxy for outbound requests (`proxyFromEnv()` reads `HTTPS_PROXY`, `NO_PROXY`, …). The
   * target's address is still resolved and checked here; the proxy's own address is not. Only
   * Node's guarded fetch (`createGuardedFetch` of `@backchannel/core/discovery`) goes through one.
   */
  proxy?: OutboundProxy
}

/** A `fetch` that obeys an {@link IssuerFetchPolicy}; it throws `IssuerRefused` subclasses. */
export type GuardedFetch = (url: string | URL, init?: RequestInit) => Promise<Response>

/** The host of a URL as the policy compares it: lowercase, IPv6 without brackets. */
export function policyHost(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, '').toLowerCase()
}

/** Whether the policy allows a URL's scheme: `https:`, or `http:` with `allowInsecure`. */
export function schemeAllowed(url: URL, policy: IssuerFetchPolicy): boolean {
  return url.protocol === 'https:' || (policy.allowInsecure === true && url.protocol === 'http:')
}

/**
 * The guarded fetch over the runtime's own `fetch`, for runtimes without Node's sockets.
 * @throws {ProxyInvalid} when the policy names a proxy, which only Node's guarded fetch can use.
 */
export function createWebFetch(policy: IssuerFetchPolicy = {}, fetch: typeof globalThis.fetch = globalThis.fetch) {
  if (policy.proxy) {
    throw new ProxyInvalid(
      'proxy',
      "only Node's guarded fetch goes through a proxy: pass `fetch: createGuardedFetch(policy)` from @backchannel/core/discovery",
    )
  }
  const timeout = policy.timeout ?? 5
  const maxBytes = policy.maxBytes ?? 512 * 1024
  const trusted = new Set((policy.trustedHosts ?? []).map((h) => h.toLowerCase()))

  const guarded: GuardedFetch = async (input, init = {}) => {
    const url = new URL(input)
    if (!schemeAllowed(url, policy)) {
      throw new IssuerInsecure(`${url.origin} is not https: (set BACKCHANNEL_ALLOW_INSECURE_ISSUERS for development)`)
    }
    const host = policyHost(url)
    // A name's address is not known before fetch connects: only literals and localhost are refused.
    const local = host === 'localhost' || host.endsWith('.localhost')
    if (!policy.allowInsecure && !trusted.has(host) && (local || (ipFamily(host) && isForbiddenAddress(host)))) {
      throw new IssuerAddressForbidden(`${url.host} is not a public address (trust the host to allow it)`)
    }
    const signal = AbortSignal.any([AbortSignal.timeout(timeout * 1000), ...(init.signal ? [init.signal] : [])])
    const failed = (err: unknown) =>
      signal.aborted
        ? new IssuerTimeout(`${url.origin} did not answer within ${timeout} s`, { cause: err })
        : new IssuerUnreachable(`${url.href} could not be reached (${(err as Error)?.message})`, { cause: err })
    let response: Response
    try {
      response = await fetch(url, { ...init, signal, redirect: 'manual' })
    } catch (err) {
      throw failed(err)
    }
    const { status } = response
    if ((status >= 300 && status < 400) || response.type === 'opaqueredirect') {
      await response.body?.cancel().catch(() => {})
      throw new IssuerRedirect(`${url.origin} answered with a redirect (${status}); redirects are not followed`)
    }
    const tooLarge = () =>
      new IssuerResponseTooLarge(`the response from ${url.origin} is larger than ${maxBytes} bytes`)
    if (Number(response.headers.get('content-length') ?? 0) > maxBytes) {
      await response.body?.cancel().catch(() => {})
      throw tooLarge()
    }
    const chunks: Uint8Array[] = []
    let size = 0
    try {
      for await (const chunk of (response.body ?? []) as AsyncIterable<Uint8Array>) {
        size += chunk.byteLength
        if (size > maxBytes) {
          await response.body?.cancel().catch(() => {})
          throw tooLarge()
        }
        chunks.push(chunk)
      }
    } catch (err) {
      throw err instanceof IssuerResponseTooLarge ? err : failed(err)
    }
    const body = status === 204 || status === 304 ? null : concat(chunks, size)
    return new Response(body, { status, headers: response.headers })
  }
  return guarded
}
