/**
 * `@backchannel/unstorage/redis`: shared storage for several gateway instances. Records go
 * through unstorage's redis driver; the preset adds, on the same ioredis connection, what
 * unstorage cannot express: an atomic claim (a Lua script), index sets (`SADD`), atomic multi-key
 * writes (`MULTI`) and a capped, ordered audit log (a sorted set read by lexical range).
 * The key layout and its memory cost are described in this package's README.
 *
 * @example
 * ```ts
 * import { redisStore } from '@backchannel/unstorage/redis'
 * const store = redisStore({ url: 'redis://127.0.0.1:6379', masterKey })
 * ```
 * @module
 */
import type { Redis, RedisOptions } from 'ioredis'
import { createStorage } from 'unstorage'
import redisDriver from 'unstorage/drivers/redis'
import { type StoreBackend, ttlSeconds } from '../backend.js'
import { type BackchannelStore, createStore, type StoreOptions } from '../store.js'

/** Options of {@link redisStore}. */
export interface RedisStoreOptions extends StoreOptions {
  /** `redis://[user:password@]host:port[/db]` (or `rediss://` for TLS). */
  url: string
  /** Prefix of every key. Default `bc`. */
  base?: string
  /** Extra ioredis options. */
  redis?: RedisOptions
}

// Claims a key unless a claim that is still valid by the caller's clock holds it. Atomic: Redis
// runs a script with nothing in between. ARGV: expiresAt, now, ttl in ms.
const CLAIM = `
local held = redis.call('GET', KEYS[1])
if held and tonumber(held) > tonumber(ARGV[2]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return 1`

/** A store on Redis (≥ 7). */
export function redisStore(options: RedisStoreOptions): BackchannelStore {
  const base = options.base ?? 'bc'
  const storage = createStorage({
    driver: redisDriver({
      url: options.url,
      base,
      // Fail fast while Redis is down (the gateway answers 503) and reconnect by itself.
      maxRetriesPerRequest: 1,
      commandTimeout: 5000,
      ...options.redis,
    }),
  })
  const client = storage.getMount('').driver.getInstance?.() as Redis
  // Connection errors are retried by ioredis; each command that fails meanwhile rejects and
  // surfaces as ERR_STORE_UNAVAILABLE. Without a listener ioredis would print every retry.
  client.on('error', () => {})
  const k = (key: string) => `${base}:${key}`

  const backend: StoreBackend = {
    storage,

    async claim(key, expiresAt, now) {
      const ms = ttlSeconds(expiresAt, now) * 1000
      return (await client.eval(CLAIM, 1, k(key), String(expiresAt), String(now), String(ms))) === 1
    },

    async release(key) {
      await client.del(k(key))
    },

    async addMember(set, member, expiresAt) {
      const ttl = ttlSeconds(expiresAt, Date.now() / 1000)
      // NX gives a new set its expiry, GT extends it for a longer-lived member; never shortened.
      await client.multi().sadd(k(set), member).expire(k(set), ttl, 'NX').expire(k(set), ttl, 'GT').exec()
    },

    members: (set) => client.smembers(k(set)),

    async removeMembers(set, members) {
      if (members.length > 0) await client.srem(k(set), ...members)
    },

    async setMany(entries, now) {
      if (entries.length === 0) return
      const tx = client.multi()
      for (const { key, value, expiresAt } of entries) {
        tx.set(k(key), JSON.stringify(value), 'EX', ttlSeconds(expiresAt, now))
      }
      await execOrThrow(tx.exec())
    },

    async append(logs, id, entry, maxEntries) {
      const tx = client.multi()
      for (const log of logs) tx.zadd(k(log), 0, `${id}\n${entry}`).zremrangebyrank(k(log), 0, -maxEntries - 1)
      await execOrThrow(tx.exec())
    },

    async read(log, limit, before) {
      const members = await client.zrevrangebylex(
        k(log),
        before === undefined ? '+' : `(${before}`,
        '-',
        'LIMIT',
        0,
        limit,
      )
      return members.map((m) => m.slice(m.indexOf('\n') + 1))
    },

    async removePrefix(prefix) {
      let cursor = '0'
      do {
        const [next, found] = await client.scan(cursor, 'MATCH', `${k(prefix)}:*`, 'COUNT', 1000)
        if (found.length > 0) await client.unlink(...found)
        cursor = next
      } while (cursor !== '0')
    },

    async ping() {
      await client.ping()
    },

    async dispose() {
      await storage.dispose()
    },
  }
  return createStore(backend, options)
}

async function execOrThrow(pending: Promise<[Error | null, unknown][] | null>): Promise<void> {
  const results = await pending
  if (!results) throw new Error('the Redis transaction was aborted')
  for (const [err] of results) if (err) throw err
}
