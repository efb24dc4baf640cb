/** The client address for the throttle: never the leftmost, client-written X-Forwarded-For entry. */
import { describe, expect, it } from 'vitest'
import { addressKey, createClientAddress } from '../src/client-address.js'

describe('createClientAddress', () => {
  it('without trust, is the peer, whatever X-Forwarded-For says', () => {
    expect(createClientAddress({})('203.0.113.9', '1.2.3.4')).toBe('203.0.113.9')
  })

  it('with trusted proxies, is the rightmost entry that is not one of them', () => {
    const client = createClientAddress({ trustedProxies: ['10.0.0.0/8', 'fd00::/8'] })
    // The client wrote 6.6.6.6 itself; the first proxy saw 203.0.113.9; the second saw the first.
    expect(client('10.0.0.2', '6.6.6.6, 203.0.113.9, 10.0.0.7')).toBe('203.0.113.9')
    expect(client('::ffff:10.0.0.2', '203.0.113.9')).toBe('203.0.113.9')
    expect(client('fd00::1', '2001:db8::5')).toBe('2001:db8::5')
    // Every entry a proxy: the farthest one.
    expect(client('10.0.0.2', '10.0.0.9, 10.0.0.7')).toBe('10.0.0.9')
    expect(client('10.0.0.2', null)).toBe('10.0.0.2')
  })

  it('ignores X-Forwarded-For from a peer that is not a trusted proxy', () => {
    const client = createClientAddress({ trustedProxies: ['10.0.0.0/8'] })
    expect(client('203.0.113.9', '10.0.0.1, 1.2.3.4')).toBe('203.0.113.9')
  })

  it('with BACKCHANNEL_TRUST_PROXY, believes one hop: the entry the peer added', () => {
    const client = createClientAddress({ trustPeer: true })
    expect(client('127.0.0.1', 'forged, 198.51.100.4')).toBe('198.51.100.4')
    expect(client('127.0.0.1', '198.51.100.4')).toBe('198.51.100.4')
  })
})

describe('addressKey', () => {
  it('keys an IPv6 address by its /64, however it is written', () => {
    const key = '2001:db8:0:1::/64'
    for (const address of [
      '2001:db8:0:1::1',
      '2001:0db8:0000:0001:ffff:ffff:ffff:ffff',
      '2001:DB8:0:1:a::b',
      '2001:db8:0:1::1%eth0',
    ]) {
      expect(addressKey(address)).toBe(key)
    }
    expect(addressKey('2001:db8:0:2::1')).toBe('2001:db8:0:2::/64')
    expect(addressKey('::1')).toBe('0:0:0:0::/64')
    expect(addressKey('fe80::1')).toBe('fe80:0:0:0::/64')
  })

  it('keys an IPv4 client by its address, also when it arrives IPv4-mapped on a dual-stack socket', () => {
    expect(addressKey('192.0.2.7')).toBe('192.0.2.7')
    expect(addressKey('::ffff:192.0.2.7')).toBe('192.0.2.7')
    expect(addressKey('::ffff:c000:207')).toBe('192.0.2.7')
    expect(addressKey('::ffff:192.0.2.8')).toBe('192.0.2.8')
  })

  it('keeps anything that is not an address as it is', () => {
    expect(addressKey('unknown')).toBe('unknown')
    expect(addressKey('[2001:db8::1]:443')).toBe('[2001:db8::1]:443')
  })
})
