/** The Redis URL forms of the preset, parsed without connecting. */
import { describe, expect, it } from 'vitest'
import { parseRedisUrl } from '../src/presets/redis-url.js'

describe('parseRedisUrl', () => {
  it('reads one server, with TLS, credentials and a database; no waiting by default', () => {
    expect(parseRedisUrl('rediss://app:s%40cret@cache.internal:6380/2')).toEqual({
      mode: 'standalone',
      tls: true,
      nodes: [{ host: 'cache.internal', port: 6380 }],
      db: 2,
      username: 'app',
      password: 's@cret',
      replicas: 0,
      replicaTimeout: 1000,
    })
    expect(parseRedisUrl('redis://:pw@[::1]')).toMatchObject({ nodes: [{ host: '::1', port: 6379 }], password: 'pw' })
  })

  it('reads Sentinels and the master name, waiting for one replica unless told otherwise', () => {
    expect(parseRedisUrl('redis+sentinel://10.0.0.1,10.0.0.2:26380/mymaster/1')).toEqual({
      mode: 'sentinel',
      tls: false,
      nodes: [
        { host: '10.0.0.1', port: 26379 },
        { host: '10.0.0.2', port: 26380 },
      ],
      name: 'mymaster',
      db: 1,
      replicas: 1,
      replicaTimeout: 1000,
    })
    expect(parseRedisUrl('redis+sentinel://s:26379/m?replicas=0')).toMatchObject({ replicas: 0 })
  })

  it('reads cluster seed nodes', () => {
    expect(parseRedisUrl('rediss+cluster://a:7000,b:7001?replicas=2&replicaTimeout=250')).toMatchObject({
      mode: 'cluster',
      tls: true,
      nodes: [
        { host: 'a', port: 7000 },
        { host: 'b', port: 7001 },
      ],
      db: 0,
      replicas: 2,
      replicaTimeout: 250,
    })
  })

  for (const [url, message] of [
    ['redis+sentinel://s:26379', /must name the master/],
    ['redis+sentinel://s:26379/', /must name the master/],
    ['redis://a:1,b:2', /names one server/],
    ['redis+cluster://a:7000/3', /only database 0/],
    ['redis://h/x', /database number/],
    ['redis://h?replica=0', /unknown parameter \?replica/],
    ['redis://h?replicas=one', /not a whole number/],
    ['redis://h:99999', /not host:port/],
    ['http://h', /not a redis/],
  ] as const) {
    it(`refuses ${url}`, () => {
      expect(() => parseRedisUrl(url)).toThrow(message)
    })
  }
})
