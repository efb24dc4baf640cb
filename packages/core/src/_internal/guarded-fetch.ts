/**
 * How core talks to an issuer on Node: a `fetch`-shaped function over node:http(s) that refuses
 * non-`https:` URLs, non-public addresses (checked at connect time, in the socket's own DNS
 * lookup, so a rebinding DNS answer cannot slip past), redirects, slow answers and large bodies.
 * Through a forward proxy ({@link IssuerFetchPolicy.proxy}) the same rules hold: see outbound-proxy.ts.
 */
import { lookup as dnsLookup, promises as dnsPromises } from 'node:dns'
import { request as httpRequest, type IncomingMessage } from 'node:http'
import { request as httpsRequest } from 'node:https'
import type { LookupFunction } from 'node:net'
import {
  IssuerAddressForbidden,
  IssuerInsecure,
  IssuerRedirect,
  IssuerResponseTooLarge,
  IssuerTimeout,
  IssuerUnreachable,
} from '../errors.js'
import { ipFamily, isForbiddenAddress } from './ip.js'
import { type GuardedFetch, type IssuerFetchPolicy, policyHost, schemeAllowed } from './issuer-fetch.js'
import { createProxyRouter } from './outbound-proxy.js'

/**
 * Refuses, before anything connects, a URL the policy would refuse to fetch: not `https:`, or
 * naming a non-public address (an IP literal, or a host name resolving to one) that is neither
 * allowed nor trusted. For URLs kept now and fetched later (a `jwks_uri`), so that registration
 * fails rather than every logout after it.
 * @throws {IssuerInsecure | IssuerAddressForbidden}
 */
export async function checkFetchTarget(url: URL, what: string, policy: IssuerFetchPolicy): Promise<void> {
  if (!schemeAllowed(url, policy)) {
    throw new IssuerInsecure(
      `${what} ${url.href} must be https: (set BACKCHANNEL_ALLOW_INSECURE_ISSUERS for development)`,
    )
  }
  const host = policyHost(url)
  const trusted = (policy.trustedHosts ?? []).some((h) => h.toLowerCase() === host)
  if (policy.allowInsecure || trusted) return
  const addresses = ipFamily(host)
    ? [host]
    : await dnsPromises.lookup(host, { all: true }).then(
        (found) => found.map((a) => a.address),
        (err) => {
          throw new IssuerUnreachable(`${what} ${url.href} could not be reached: ${url.hostname} does not resolve`, {
            cause: err,
          })
        },
      )
  if (addresses.some(isForbiddenAddress)) {
    throw new IssuerAddressForbidden(`${what} ${url.href} is not at a public address (trust the host to allow it)`)
  }
}

class ForbiddenAddressLookupError extends Error {}

const guardedLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, '', 0)
    const bad = addresses.find((a) => isForbiddenAddress(a.address))
    if (bad) {
      return callback(new ForbiddenAddressLookupError(`${hostname} resolves to a non-public address`), '', 0)
    }
    if (options.all) return (callback as unknown as (e: null, a: typeof addresses) => void)(null, addresses)
    const first = addresses[0]
    if (!first) return callback(new Error(`${hostname} has no address`), '', 0)
    callback(null, first.address, first.family)
  })
}

/**
 * Builds the guarded fetch for a policy.
 * @throws {ProxyInvalid} when `policy.proxy` holds a value that cannot be used.
 */
export function createGuardedFetch(policy: IssuerFetchPolicy = {}): GuardedFetch {
  const timeout = policy.timeout ?? 5
  const maxBytes = policy.maxBytes ?? 512 * 1024
  const trusted = new Set((policy.trustedHosts ?? []).map((h) => h.toLowerCase()))
  const routeOf = policy.proxy ? createProxyRouter(policy.proxy) : () => undefined

  return async (input, init = {}) => {
    const url = new URL(input)
    const secure = url.protocol === 'https:'
    if (!schemeAllowed(url, policy)) {
      throw new IssuerInsecure(`${url.origin} is not https: (set BACKCHANNEL_ALLOW_INSECURE_ISSUERS for development)`)
    }
    const host = policyHost(url)
    const checkAddress = !policy.allowInsecure && !trusted.has(host)
    if (checkAddress && ipFamily(host) && isForbiddenAddress(host)) {
      throw new IssuerAddressForbidden(`${url.host} is not a public address (trust the host to allow it)`)
    }

    const signals = [AbortSignal.timeout(timeout * 1000)]
    if (init.signal) signals.push(init.signal)
    const signal = AbortSignal.any(signals)
    const headers = Object.fromEntries(new Headers(init.headers).entries())
    const send = secure ? httpsRequest : httpRequest
    const route = routeOf(url)
    const via = route ? ` through the proxy ${route.origin}` : ''

    return new Promise<Response>((resolve, reject) => {
      const fail = (err: unknown) => {
        if (signal.aborted) {
          reject(new IssuerTimeout(`${url.origin} did not answer within ${timeout} s`, { cause: err }))
        } else if (err instanceof ForbiddenAddressLookupError) {
          reject(new IssuerAddressForbidden(`${err.message} (trust the host to allow it)`))
        } else if (err instanceof Error && 'code' in err && String(err.code).startsWith('ERR_ISSUER_')) {
          reject(err)
        } else {
          const why = (err as { code?: string; message?: string } | null)?.code ?? (err as Error)?.message
          reject(
            new IssuerUnreachable(`${url.href} could not be reached${via}${why ? ` (${why})` : ''}`, { cause: err }),
          )
        }
      }
      const req = send(url, {
        method: init.method ?? 'GET',
        headers,
        signal,
        // Through a proxy too: the proxy agent resolves the target with this lookup (outbound-proxy.ts).
        ...(checkAddress ? { lookup: guardedLookup } : {}),
        ...(route ? { agent: route.createAgent(signal) } : {}),
      })
      req.on('error', fail)
      if (route) {
        // A request still waiting for its proxy's CONNECT answer has no socket to fail with.
        signal.addEventListener('abort', () => fail(signal.reason), { once: true })
        req.on('proxyConnect', ({ statusCode, statusText }: { statusCode: number; statusText: string }) => {
          if (statusCode === 200) return
          req.destroy()
          const answer = `answered ${statusCode} ${statusText} to CONNECT`
          fail(new IssuerUnreachable(`${url.href} could not be reached: the proxy ${route.origin} ${answer}`))
        })
      }
      req.on('response', (res: IncomingMessage) => {
        const status = res.statusCode ?? 0
        if (status >= 300 && status < 400) {
          res.destroy()
          return fail(
            new IssuerRedirect(`${url.origin} answered with a redirect (${status}); redirects are not followed`),
          )
        }
        const tooLarge = () =>
          new IssuerResponseTooLarge(`the response from ${url.origin} is larger than ${maxBytes} bytes`)
        if (Number(res.headers['content-length'] ?? 0) > maxBytes) {
          res.destroy()
          return fail(tooLarge())
        }
        const chunks: Buffer[] = []
        let size = 0
        res.on('data', (chunk: Buffer) => {
          size += chunk.length
          if (size > maxBytes) {
            res.destroy()
            fail(tooLarge())
          } else chunks.push(chunk)
        })
        res.on('error', fail)
        res.on('end', () => {
          const responseHeaders = new Headers()
          for (const [name, value] of Object.entries(res.headers)) {
            if (value !== undefined) responseHeaders.set(name, Array.isArray(value) ? value.join(', ') : value)
          }
          const body = status === 204 || status === 304 ? null : Buffer.concat(chunks)
          resolve(new Response(body, { status, headers: responseHeaders }))
        })
      })
      // A string body only: the gateway POSTs small forms (relayed logout tokens), nothing streamed.
      req.end(typeof init.body === 'string' ? init.body : undefined)
    })
  }
}
