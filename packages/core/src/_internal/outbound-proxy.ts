/**
 * Node's route through a forward proxy for outbound requests (discovery, JWKS, relays, Shared
 * Signals): an `HttpsProxyAgent` per request, to the settings of proxy-settings.ts.
 * @module
 */
import { lookup as dnsLookup } from 'node:dns'
import type { ClientRequest } from 'node:http'
import { globalAgent as httpsGlobalAgent } from 'node:https'
import { isIP, type LookupFunction, type Socket } from 'node:net'
import { checkServerIdentity, type PeerCertificate } from 'node:tls'
import { HttpsProxyAgent } from 'https-proxy-agent'
import { type OutboundProxy, parseNoProxy, parseProxyUrl } from './proxy-settings.js'

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
