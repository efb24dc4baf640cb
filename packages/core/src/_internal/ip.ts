/**
 * IP addresses as bytes, with no runtime module: which addresses are not public (the issuer
 * fetch policy) and which fall in a CIDR (`NO_PROXY`), on Node, Bun, Deno and Workers alike.
 * @module
 */

/**
 * The bytes of an IPv4 (4 bytes) or IPv6 (16 bytes) address in text form, or `undefined`.
 * IPv4 is dotted decimal without leading zeros; IPv6 may end in dotted IPv4 and carry a `%zone`.
 */
export function parseIp(text: string): Uint8Array | undefined {
  return parseIpv4(text) ?? parseIpv6(text)
}

/** 4 or 6 for an address in text form, 0 for anything else (as `node:net`'s `isIP`). */
export function ipFamily(text: string): 0 | 4 | 6 {
  const bytes = parseIp(text)
  return bytes === undefined ? 0 : bytes.length === 4 ? 4 : 6
}

/** A predicate over address bytes: `true` for an address of `net`'s family within `net/prefix`. */
export function inSubnet(net: string, prefix: number): (address: Uint8Array) => boolean {
  const base = parseIp(net)
  if (!base || !Number.isInteger(prefix) || prefix < 0 || prefix > base.length * 8) {
    throw new TypeError(`${net}/${prefix} is not a subnet`)
  }
  return (address) => {
    if (address.length !== base.length) return false
    for (let bit = 0; bit < prefix; bit += 8) {
      const mask = prefix - bit >= 8 ? 0xff : (0xff << (8 - (prefix - bit))) & 0xff
      if (((address[bit / 8] ?? 0) & mask) !== ((base[bit / 8] ?? 0) & mask)) return false
    }
    return true
  }
}

// Everything that is not a public unicast address (RFC 6890 special-purpose registries).
const forbidden = [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
  ['::', 127], // :: and ::1
  ['64:ff9b::', 96], // NAT64 can reach private IPv4
  ['100::', 64],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
].map(([net, prefix]) => inSubnet(net as string, prefix as number))
const mapped = inSubnet('::ffff:0.0.0.0', 96)

/** `true` when `address` (IPv4 or IPv6, including IPv4-mapped IPv6) is not a public address. */
export function isForbiddenAddress(address: string): boolean {
  const bytes = parseIp(address)
  if (!bytes) return true
  const checked = mapped(bytes) ? bytes.subarray(12) : bytes
  return forbidden.some((contains) => contains(checked))
}

function parseIpv4(text: string): Uint8Array | undefined {
  const parts = text.split('.')
  if (parts.length !== 4) return undefined
  const bytes = new Uint8Array(4)
  for (const [i, part] of parts.entries()) {
    if (!/^(0|[1-9]\d{0,2})$/.test(part) || Number(part) > 255) return undefined
    bytes[i] = Number(part)
  }
  return bytes
}

function parseIpv6(text: string): Uint8Array | undefined {
  const address = text.replace(/%[\w.~-]+$/, '')
  const halves = address.split('::')
  if (halves.length > 2) return undefined
  const groups = (half: string | undefined): number[] | undefined => {
    if (!half) return []
    const words: number[] = []
    const parts = half.split(':')
    for (const [i, part] of parts.entries()) {
      if (i === parts.length - 1 && part.includes('.')) {
        const v4 = parseIpv4(part)
        if (!v4) return undefined
        words.push(((v4[0] ?? 0) << 8) | (v4[1] ?? 0), ((v4[2] ?? 0) << 8) | (v4[3] ?? 0))
      } else if (/^[0-9a-f]{1,4}$/i.test(part)) {
        words.push(Number.parseInt(part, 16))
      } else return undefined
    }
    return words
  }
  const head = groups(halves[0])
  const tail = groups(halves[1])
  if (!head || !tail) return undefined
  const missing = 8 - head.length - tail.length
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined
  const words = [...head, ...new Array<number>(missing).fill(0), ...tail]
  const bytes = new Uint8Array(16)
  for (const [i, word] of words.entries()) {
    bytes[2 * i] = word >> 8
    bytes[2 * i + 1] = word & 0xff
  }
  return bytes
}
