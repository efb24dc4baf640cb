/**
 * The forward proxy that outbound requests (discovery, JWKS, and later relays and Shared Signals)
 * go through: `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY`, read the way curl reads them.
 * @module
 */
import { lookup as dnsLookup } from 'node:dns'
import type { ClientRequest } from 'node:http'
import { globalAgent as httpsGlobalAgent } from 'node:https'
import { BlockList, isIP, type LookupFunction, type Socket } from 'node:net'
import { checkServerIdentity, type PeerCertificate } from 'node:tls'
import { HttpsProxyAgent } from 'https-proxy-agent'
import { ProxyInvalid } from '../errors.js'

/** A forward proxy for outbound requests; the fields of undici's `EnvHttpProxyAgent`. */
export interface OutboundProxy {
  /** Proxy of `https:` targets: `http://host:port` or `https://host:port`, with `user:password@` for Basic auth. */
  httpsProxy?: string
  /** Proxy of `http:` targets (reached only when insecure issuers are allowed), tunnelled with `CONNECT` too. */
  httpProxy?: string
  /**
   * Targets reached directly, comma- or space-separated: `*`, host names (`id.example.com`), domains
   * (`example.com` or `.example.com`: the domain and every name under it), IP addresses, CIDRs
   * (`10.0.0.0/8`), each optionally with `:port`.
   */
  noProxy?: string
}

/**
 * Reads the proxy settings from environment variables, lowercase first (`https_proxy`, then
 * `HTTPS_PROXY`), as curl and undici do. A proxy without a scheme is `http://`.
 * @returns `undefined` when no proxy is set.
 * @throws {ProxyInvalid} naming the variable whose value cannot be used.
 * @example
 * ```ts
 * import { createKeyResolver, proxyFromEnv } from '@backchannel/core'
 * const proxy = proxyFromEnv({ HTTPS_PROXY: 'http://proxy.internal:3128', NO_PROXY: '.internal' })
 * // { httpsProxy: 'http://proxy.internal:3128', noProxy: '.internal' }
 * const keys = createKeyResolver({ fetchPolicy: { proxy } }) // usually proxyFromEnv(), i.e. process.env
 * ```
 */
export function proxyFromEnv(env: Record<string, string | undefined> = process.env): OutboundProxy | undefined {
  const read = (name: string) => {
    for (const variable of [name.toLowerCase(), name]) {
      const value = env[variable]?.trim()
      if (value) return { variable, value }
    }
    return undefined
  }
  const https = read('HTTPS_PROXY')
  const http = read('HTTP_PROXY')
  const no = read('NO_PROXY')
  if (https) parseProxyUrl(https.value, https.variable)
  if (http) parseProxyUrl(http.value, http.variable)
  if (no) parseNoProxy(no.value, no.variable)
  if (!https && !http) return undefined
  return {
    ...(https ? { httpsProxy: https.value } : {}),
    ...(http ? { httpProxy: http.value } : {}),
    ...(no ? { noProxy: no.value } : {}),
  }
}

/** The proxy a URL goes through. */
export interface ProxyRoute {
  /** `scheme://host:port` of the proxy, without credentials. */
  origin: string
  /**
   * An agent for one request. `signal` also ends the connection to the proxy: a request aborted
   * while its CONNECT is unanswered has no socket yet, so aborting the request alone would not.
   */
  createAgent(signal: AbortSignal): HttpsProxyAgent<string>
}

/**
 * Compiles proxy settings into a function picking the route of a URL: `undefined` means direct.
 * @throws {ProxyInvalid} naming the field (`proxy.httpsProxy`, …) that cannot be used.
 */
export function createProxyRouter(proxy: OutboundProxy): (url: URL) => ProxyRoute | undefined {
  const route = (value: string | undefined, field: string): ProxyRoute | undefined => {
    if (!value) return undefined
    const url = parseProxyUrl(value, field)
    return {
      origin: `${url.protocol}//${url.host}`,
      // TLS to the proxy and to the target trusts what a direct request trusts (an embedding
      // application may give https.globalAgent a CA of its own).
      createAgent: (signal) => new CheckedTargetProxyAgent(url, { signal, ca: httpsGlobalAgent.options.ca }),
    }
  }
  const https = route(proxy.httpsProxy, 'proxy.httpsProxy')
  const http = route(proxy.httpProxy, 'proxy.httpProxy')
  const direct = parseNoProxy(proxy.noProxy ?? '', 'proxy.noProxy')
  return (url) => {
    const via = url.protocol === 'https:' ? https : url.protocol === 'http:' ? http : undefined
    if (!via || direct(url)) return undefined
    return via
  }
}

type ConnectOptions = Parameters<HttpsProxyAgent<string>['connect']>[1]

/**
 * An `HttpsProxyAgent` that resolves the target itself, with the request's `lookup` (the guarded
 * one when the address policy applies), and asks the proxy to `CONNECT` to that checked address,
 * never to the name: the proxy resolving the name again would reopen the DNS-rebinding race that
 * checking in the connection's own lookup closes. TLS still uses and verifies the host name. A proxy
 * that filters by domain name therefore sees addresses; its own address is not checked (operators
 * run proxies on their network).
 */
class CheckedTargetProxyAgent extends HttpsProxyAgent<string> {
  override async connect(req: ClientRequest, opts: ConnectOptions): Promise<Socket> {
    const host = String(opts.host).replace(/^\[|\]$/g, '')
    const lookup = (opts as { lookup?: LookupFunction }).lookup ?? dnsLookup
    const address = isIP(host)
      ? host
      : await new Promise<string>((resolve, reject) =>
          lookup(host, {}, (err, found) => (err ? reject(err) : resolve(String(found)))),
        )
    return super.connect(req, {
      ...opts,
      ca: this.connectOpts.ca, // the agent keeps its options for the proxy's connection only
      host: address,
      ...(isIP(host) ? {} : { servername: host }),
      // Without `host` (the agent drops it) Node would check the certificate against the proxy's name.
      checkServerIdentity: (_name: string, cert: PeerCertificate) => checkServerIdentity(host, cert),
    } as ConnectOptions)
  }
}

/** The URL of a proxy setting; a value without a scheme is `http://` (as curl reads it). */
function parseProxyUrl(value: string, variable: string): URL {
  const text = value.includes('://') ? value : `http://${value}`
  // A proxy URL may hold a password: messages show only what follows the `@`.
  const shown = JSON.stringify(value.replace(/^([a-z][a-z0-9+.-]*:\/\/)?[^/@]*@/i, '$1…@'))
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new ProxyInvalid(variable, `${shown} is not a URL (e.g. http://proxy.internal:3128)`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ProxyInvalid(variable, `${shown}: only http:// and https:// proxies are supported (HTTP CONNECT)`)
  }
  if (!url.hostname || (url.pathname !== '/' && url.pathname !== '') || url.search || url.hash) {
    throw new ProxyInvalid(variable, `${shown} is not scheme://host:port (no path, query or fragment)`)
  }
  return url
}

/** A `NO_PROXY` list as a predicate: `true` when a URL is reached directly. */
function parseNoProxy(value: string, variable: string): (url: URL) => boolean {
  const rules: ((host: string, port: number) => boolean)[] = []
  for (const entry of value
    .toLowerCase()
    .split(/[\s,]+/)
    .filter(Boolean)) {
    if (entry === '*') return () => true
    // `[::1]:8443`, `host:8443`; a bare IPv6 address or CIDR has several colons and no port.
    const match = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry) ?? /^([^:]+):(\d+)$/.exec(entry)
    const name = match?.[1] ?? entry
    const wanted = match?.[2] === undefined ? undefined : Number(match[2])
    const portMatches = (port: number) => wanted === undefined || wanted === port
    const [net, prefix] = name.split('/')
    if (net && isIP(net)) {
      const family = isIP(net) === 4 ? 'ipv4' : 'ipv6'
      const list = new BlockList()
      const bits = prefix === undefined ? (family === 'ipv4' ? 32 : 128) : Number(prefix)
      if (!/^\d*$/.test(prefix ?? '') || bits > (family === 'ipv4' ? 32 : 128)) {
        throw new ProxyInvalid(variable, `${JSON.stringify(entry)} is not an address or CIDR (e.g. 10.0.0.0/8)`)
      }
      list.addSubnet(net, bits, family)
      rules.push((host, port) => isIP(host) === isIP(net) && list.check(host, family) && portMatches(port))
    } else if (prefix !== undefined) {
      throw new ProxyInvalid(variable, `${JSON.stringify(entry)} is not an address or CIDR (e.g. 10.0.0.0/8)`)
    } else {
      // curl's reading: `example.com`, `.example.com` and `*.example.com` all cover the domain and its subdomains.
      const domain = name.replace(/^\*?\.?/, '')
      rules.push((host, port) => (host === domain || host.endsWith(`.${domain}`)) && portMatches(port))
    }
  }
  return (url) => {
    const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase()
    const port = Number(url.port) || (url.protocol === 'https:' ? 443 : 80)
    return rules.some((rule) => rule(host, port))
  }
}
