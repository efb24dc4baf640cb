/**
 * Forward proxy settings (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`, read the way curl reads them),
 * parsed and checked with no runtime module; outbound-proxy.ts routes Node requests through them.
 * @module
 */
import { ProxyInvalid } from '../errors.js'
import { inSubnet, ipFamily, parseIp } from './ip.js'

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
 * import { createGuardedFetch } from '@backchannel/core/discovery'
 * const proxy = proxyFromEnv({ HTTPS_PROXY: 'http://proxy.internal:3128', NO_PROXY: '.internal' })
 * // { httpsProxy: 'http://proxy.internal:3128', noProxy: '.internal' }
 * // A proxy needs Node's guarded fetch (usually proxyFromEnv(), i.e. process.env):
 * const keys = createKeyResolver({ fetch: createGuardedFetch({ proxy }) })
 * ```
 */
// `globalThis.process` is absent on Workers: there the environment is the bindings, passed in.
export function proxyFromEnv(
  env: Record<string, string | undefined> = globalThis.process?.env ?? {},
): OutboundProxy | undefined {
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

/** The URL of a proxy setting; a value without a scheme is `http://` (as curl reads it). */
export function parseProxyUrl(value: string, variable: string): URL {
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
export function parseNoProxy(value: string, variable: string): (url: URL) => boolean {
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
    const family = net ? ipFamily(net) : 0
    if (net && family !== 0) {
      const bits = prefix === undefined ? (family === 4 ? 32 : 128) : Number(prefix)
      if (!/^\d*$/.test(prefix ?? '') || bits > (family === 4 ? 32 : 128)) {
        throw new ProxyInvalid(variable, `${JSON.stringify(entry)} is not an address or CIDR (e.g. 10.0.0.0/8)`)
      }
      const contains = inSubnet(net, bits)
      rules.push((host, port) => {
        const address = parseIp(host)
        return address !== undefined && contains(address) && portMatches(port)
      })
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
