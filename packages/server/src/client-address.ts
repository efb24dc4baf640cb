/**
 * The client address of a request, for the failure throttling: the socket's peer, or behind
 * reverse proxies the rightmost `X-Forwarded-For` entry that is not a trusted proxy. The
 * leftmost entry is whatever the client wrote, so it is never believed.
 * @module
 */
import { BlockList, isIP } from 'node:net'

/** Which peers are reverse proxies whose `X-Forwarded-For` entries are believed. */
export interface ProxyTrust {
  /** The direct peer is a proxy whatever its address (`BACKCHANNEL_TRUST_PROXY`: one hop). */
  trustPeer?: boolean
  /** Addresses and CIDRs of proxies (`BACKCHANNEL_TRUSTED_PROXIES`). */
  trustedProxies?: readonly string[]
}

/** An address or CIDR (`10.0.0.0/8`, `192.0.2.7`, `fd00::/8`), or `undefined` when it is neither. */
export function parseCidr(text: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | undefined {
  const [address = '', prefixText, extra] = text.split('/')
  const version = isIP(address)
  if (version === 0 || extra !== undefined) return undefined
  const max = version === 4 ? 32 : 128
  if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) return undefined
  const prefix = prefixText === undefined ? max : Number(prefixText)
  return prefix > max ? undefined : { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' }
}

/**
 * Builds `(peer, forwardedFor) => client address` for a proxy trust. Without any trust the peer
 * is the client and `X-Forwarded-For` is ignored.
 *
 * @example
 * ```ts
 * const clientAddress = createClientAddress({ trustedProxies: ['10.0.0.0/8'] })
 * clientAddress('10.0.0.2', '6.6.6.6, 203.0.113.9, 10.0.0.7') // '203.0.113.9'
 * clientAddress('203.0.113.9', '1.2.3.4') // '203.0.113.9': not from a proxy
 * ```
 */
export function createClientAddress(
  trust: ProxyTrust,
): (peer: string | undefined, forwardedFor: string | null) => string {
  const proxies = new BlockList()
  for (const cidr of trust.trustedProxies ?? []) {
    const parsed = parseCidr(cidr)
    if (!parsed) throw new TypeError(`${JSON.stringify(cidr)} is not an address or CIDR`)
    proxies.addSubnet(parsed.address, parsed.prefix, parsed.family)
  }
  const isProxy = (address: string) => {
    const plain = address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '')
    const version = isIP(plain)
    return version !== 0 && proxies.check(plain, version === 4 ? 'ipv4' : 'ipv6')
  }
  const anyTrust = trust.trustPeer === true || (trust.trustedProxies?.length ?? 0) > 0
  return (peer, forwardedFor) => {
    const direct = peer ?? 'unknown'
    if (!anyTrust || !forwardedFor || !(trust.trustPeer || isProxy(direct))) return direct
    const hops = forwardedFor
      .split(',')
      .map((hop) => hop.trim())
      .filter(Boolean)
    // From the right: each trusted proxy appended the address it was called from.
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i] as string
      if (i === 0 || !isProxy(hop)) return hop.slice(0, 64)
    }
    return direct
  }
}

/**
 * The key a client's failures are counted under: an IPv6 address by its /64 (a host is usually
 * given a whole /64, so counting single addresses would let it rotate past the limit), an
 * IPv4-mapped IPv6 address (`::ffff:192.0.2.7`, a dual-stack socket) as its IPv4 address, and
 * anything else as it is.
 *
 * @example
 * ```ts
 * addressKey('2001:db8:1:2:aaaa::1') // '2001:db8:1:2::/64'
 * addressKey('::ffff:192.0.2.7') // '192.0.2.7'
 * addressKey('192.0.2.7') // '192.0.2.7'
 * ```
 */
export function addressKey(address: string): string {
  const plain = address.replace(/%.*$/, '') // a zone index (`fe80::1%eth0`) names an interface, not a host
  if (isIP(plain) !== 6) return address
  const groups = ipv6Groups(plain)
  if (groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff) {
    const [high = 0, low = 0] = groups.slice(6)
    return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.')
  }
  return `${groups
    .slice(0, 4)
    .map((group) => group.toString(16))
    .join(':')}::/64`
}

/** The eight 16-bit groups of a valid IPv6 address (`::` expanded, a dotted IPv4 tail as two groups). */
function ipv6Groups(address: string): number[] {
  const toGroups = (part: string) =>
    part
      .split(':')
      .filter(Boolean)
      .flatMap((group) => {
        if (!group.includes('.')) return [Number.parseInt(group, 16)]
        const [a = 0, b = 0, c = 0, d = 0] = group.split('.').map(Number)
        return [(a << 8) | b, (c << 8) | d]
      })
  const [head = '', tail] = address.split('::')
  const before = toGroups(head)
  const after = tail === undefined ? [] : toGroups(tail)
  return [...before, ...Array<number>(8 - before.length - after.length).fill(0), ...after]
}
