/** The Redis preset against a real redis-server (started by test/setup/services.ts). */
import { randomBytes } from 'node:crypto'
import { describeReplayStore, describeSessionStore } from '@backchannel/core/testing/vitest'
import { Redis } from 'ioredis'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { type RedisStoreOptions, redisStore } from '../src/presets/redis.js'
import { itTakesOnceAcrossInstances } from './outbox-suite.js'
import { startRedis } from './setup/redis-server.js'
import {
  describeStoreExtras,
  itClaimsOnceAcrossInstances,
  itKeepsNoSecretInClear,
  itMakesOneSigningKeyAcrossInstances,
  itRecoversFromAnOutage,
} from './store-suite.js'

const url = inject('redisUrl')
if (!url) {
  console.warn(
    '\n⚠ SKIPPING the Redis tests: redis-server is not installed. Install it (apt-get install -y redis-server) to run them.\n',
  )
}
const masterKey = randomBytes(32)
let db = 0
const flush = new Redis(url ?? 'redis://127.0.0.1:1', { lazyConnect: true })
afterAll(() => flush.disconnect())

// Each test gets its own key prefix, so tests never see each other's data.
const factory = (clock: { now: () => number }, extra: Partial<RedisStoreOptions> = {}) => {
  const store = redisStore({ url: url as string, masterKey, now: clock.now, base: `t${++db}`, ...extra })
  return { store, cleanup: () => store.close() }
}

describe.skipIf(!url)('Redis preset', () => {
  describeSessionStore('redis preset', factory)
  describeReplayStore('redis preset', factory)
  describeStoreExtras('redis preset', factory)

  itClaimsOnceAcrossInstances((base) => redisStore({ url: url as string, masterKey, base }))
  itMakesOneSigningKeyAcrossInstances((base) => redisStore({ url: url as string, masterKey, base }))
  itTakesOnceAcrossInstances((base) => redisStore({ url: url as string, masterKey, base }))

  itKeepsNoSecretInClear(
    (base) => redisStore({ url: url as string, masterKey, base }),
    async (base) => {
      await flush.connect().catch(() => {})
      const dump: string[] = []
      for (const key of await flush.keys(`${base}:*`)) {
        const type = await flush.type(key)
        if (type === 'string') dump.push((await flush.get(key)) ?? '')
        else if (type === 'set') dump.push(...(await flush.smembers(key)))
        else if (type === 'zset') dump.push(...(await flush.zrange(key, 0, -1)))
        else throw new Error(`unexpected ${type} at ${key}`)
      }
      return dump
    },
  )

  it('tells Redis to expire what it writes', async () => {
    const base = `ttl${++db}`
    const store = redisStore({ url: url as string, masterKey, base })
    try {
      const now = Date.now() / 1000
      await store.register({ app: 'a', iss: 'i', sessionId: 's', sub: 'u', sid: 'x', expiresAt: now + 100 })
      await store.revoke({ app: 'a', iss: 'i', sid: 'x', scope: 'session', issuedAt: now })
      await store.claim('jti', now + 50)
      await flush.connect().catch(() => {})
      const keys = await flush.keys(`${base}:*`)
      expect(keys.length).toBeGreaterThanOrEqual(5)
      for (const key of keys) expect(await flush.ttl(key), key).toBeGreaterThan(0)
    } finally {
      await store.close()
    }
  })

  it('writes no key with a control character (a newline breaks redis-cli and key dumps)', async () => {
    const base = `ctl${++db}`
    const store = redisStore({ url: url as string, masterKey, base })
    try {
      const now = Date.now() / 1000
      await store.apps.create({
        kind: 'hmac',
        name: 'billing',
        algorithms: ['HS256'],
        secrets: [{ key: randomBytes(32) }],
        apiKeyHash: 'a'.repeat(64),
        createdAt: now,
        updatedAt: now,
      })
      await store.register({ app: 'billing', iss: '', sessionId: 'line\nbreak', sub: 'u\r\n', sid: 'x' })
      await store.revoke({ app: 'billing', iss: '', sub: 'u\r\n', scope: 'session', issuedAt: now })
      await store.settings.setIfAbsent('admin-token', 'h')
      await flush.connect().catch(() => {})
      const keys = await flush.keys(`${base}:*`)
      expect(keys.length).toBeGreaterThanOrEqual(5)
      const control = (key: string) => [...key].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)
      for (const key of keys) expect(control(key), JSON.stringify(key)).toBe(false)
    } finally {
      await store.close()
    }
  })

  itRecoversFromAnOutage(
    async () => {
      let own = await startRedis()
      const { port } = own
      return {
        url: own.url,
        stop: () => own.stop(),
        restart: async () => {
          own = await startRedis(port) // empty: no persistence
        },
        remove: () => own.stop(),
      }
    },
    (url) => redisStore({ url, masterKey, base: 'outage' }),
  )
})
