/**
 * The Redis preset on a real Redis Cluster: 3 masters, each with a replica, started for this
 * file only (test/setup/redis-topologies.ts). Every write waits for a replica by default.
 */
import { randomBytes } from 'node:crypto'
import { describeReplayStore, describeSessionStore } from '@backchannel/core/testing/vitest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { keys } from '../src/_internal/keys.js'
import { type RedisStoreOptions, redisStore } from '../src/presets/redis.js'
import { itRoundTrips } from './dump-suite.js'
import { hasRedisServer } from './setup/redis-server.js'
import { type RedisGroup, startRedisCluster } from './setup/redis-topologies.js'
import { describeStoreExtras, itClaimsOnceAcrossInstances } from './store-suite.js'

const available = hasRedisServer()
if (!available && process.env.CI) throw new Error('redis-server is not installed: CI must install it')
if (!available) console.warn('\n⚠ SKIPPING the Redis Cluster tests: redis-server is not installed.\n')

const masterKey = randomBytes(32)
let cluster: RedisGroup | undefined
let db = 0
const url = () => cluster?.url as string

const factory = (clock: { now: () => number }, extra: Partial<RedisStoreOptions> = {}) => {
  const store = redisStore({ url: url(), masterKey, now: clock.now, base: `c${++db}`, ...extra })
  return { store, cleanup: () => store.close() }
}

describe.skipIf(!available)('Redis preset on a cluster', () => {
  beforeAll(async () => {
    cluster = await startRedisCluster()
  }, 60_000)
  afterAll(() => cluster?.stop())

  describeSessionStore('redis cluster', factory)
  describeReplayStore('redis cluster', factory)
  describeStoreExtras('redis cluster', factory, { bigUser: 2_000 })
  itClaimsOnceAcrossInstances((base) => redisStore({ url: url(), masterKey, base }))
  // The dump SCANs every master; each application's keys keep their hash tag on the way in.
  itRoundTrips(() => redisStore({ url: url(), masterKey, base: `cdump${++db}` }))

  it("keeps every key of one application in one slot, and the applications' keys apart", async () => {
    const base = `slots${++db}`
    const store = redisStore({ url: url(), masterKey, base })
    try {
      for (const app of ['wiki', 'billing']) {
        await store.register({ app, iss: 'i', sessionId: 's1', sub: 'u1', sid: 'x1' })
        await store.register({ app, iss: 'i', sessionId: 's2', sub: 'u2', sid: 'x2' })
        await store.revoke({ app, iss: 'i', sub: 'u1', scope: 'user', issuedAt: Date.now() / 1000 })
      }
      const names = await store.backend.storage.getKeys()
      const slotOf = async (key: string) =>
        (await cluster?.cli(cluster.ports[0] as number, 'cluster', 'keyslot', `${base}:${key}`))?.trim()
      for (const app of ['wiki', 'billing']) {
        const own = names.filter((key) => key.startsWith(`${keys.app(app)}:`))
        expect(own.length).toBeGreaterThanOrEqual(6) // 2 records, 4 index sets, a watermark
        const slots = new Set(await Promise.all(own.map((key) => slotOf(key.replace(/^(a:[^:]+)/, '{$1}')))))
        expect(slots.size).toBe(1)
      }
      expect(await store.apps.list()).toEqual([])
    } finally {
      await store.close()
    }
  })

  it('refuses a write that fewer replicas than asked for acknowledged: ERR_STORE_UNAVAILABLE, claim given back', async () => {
    // Each master has one replica: asking for two can never be met.
    const strict = redisStore({ url: `${url()}?replicas=2&replicaTimeout=100`, masterKey, base: `strict${++db}` })
    const relaxed = redisStore({ url: `${url()}?replicas=1`, masterKey, base: `strict${db}` })
    try {
      const until = Date.now() / 1000 + 60
      await expect(strict.claim('jti', until)).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' })
      await expect(strict.register({ app: 'a', iss: 'i', sessionId: 's', sub: 'u' })).rejects.toMatchObject({
        code: 'ERR_STORE_UNAVAILABLE',
      })
      expect(await relaxed.claim('jti', until)).toBe(true)
    } finally {
      await strict.close()
      await relaxed.close()
    }
  })
})
