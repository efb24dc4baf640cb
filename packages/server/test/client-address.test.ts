/** The client address for the throttle: never the leftmost, client-written X-Forwarded-For entry. */
import { describe, expect, it } from 'vitest'
import { createClientAddress } from '../src/client-address.js'

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
