/**
 * `@backchannel/unstorage/redis`: shared storage for several gateway instances. Records go
 * through unstorage's redis driver; the preset adds, on the same ioredis connection, what
 * unstorage cannot express, each operation one Lua script: an atomic claim, index sets read
 * together with the records they name, atomic multi-key writes and a capped, ordered audit log
 * (a sorted set read by lexical range).
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
import { type RecordWrite, type StoreBackend, ttlSeconds } from '../backend.js'
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

// Scripts run atomically (Redis runs one with nothing in between) and, registered through
// ioredis's defineCommand, go out as one EVALSHA each: one command where a MULTI needs several.
const SCRIPTS = {
  // Unless a claim still valid by the caller's clock holds KEYS[1] (then it returns 0, writing
  // nothing), sets each further KEYS[i] to ARGV[2i] for ARGV[2i + 1] seconds and claims KEYS[1],
  // last: a script stopped by an error keeps no claim.
  // ARGV: expiresAt, now, the claim's ttl in ms, then a value and a ttl per record.
  bcClaim: {
    lua: `local held = redis.call('GET', KEYS[1])
if held and tonumber(held) > tonumber(ARGV[2]) then return 0 end
for i = 2, #KEYS do redis.call('SET', KEYS[i], ARGV[2 * i], 'EX', ARGV[2 * i + 1]) end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return 1`,
  },
  // Adds ARGV[1] to the set KEYS[1]; NX gives a new set its expiry (ARGV[2] s), GT extends it
  // for a longer-lived member; never shortened.
  bcAddMember: {
    numberOfKeys: 1,
    lua: `redis.call('SADD', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2], 'NX')
redis.call('EXPIRE', KEYS[1], ARGV[2], 'GT')`,
  },
  // Sets each KEYS[i] to ARGV[2i - 1] for ARGV[2i] seconds, in one atomic step.
  bcSetMany: {
    lua: `for i = 1, #KEYS do redis.call('SET', KEYS[i], ARGV[2 * i - 1], 'EX', ARGV[2 * i]) end`,
  },
  // Every member of the set KEYS[1], then the value at ARGV[1] .. member for each, then the
  // values at KEYS[2..]: one round trip where SMEMBERS and two MGETs take three. (It reads keys
  // it is not given, which standalone Redis allows and Redis Cluster would not; this preset
  // connects to one server.)
  bcReadIndex: {
    lua: `local members = redis.call('SMEMBERS', KEYS[1])
local values = {}
for i = 1, #members do values[i] = redis.call('GET', ARGV[1] .. members[i]) end
local also = {}
for i = 2, #KEYS do also[i - 1] = redis.call('GET', KEYS[i]) end
return {members, values, also}`,
  },
  // Adds each ARGV[i + 1] to the sorted-set log KEYS[ARGV[i]] (i = 2, 4, …), then keeps each
  // log's newest ARGV[1] entries.
  bcAppend: {
    lua: `for i = 2, #ARGV, 2 do redis.call('ZADD', KEYS[tonumber(ARGV[i])], 0, ARGV[i + 1]) end
for i = 1, #KEYS do redis.call('ZREMRANGEBYRANK', KEYS[i], 0, -tonumber(ARGV[1]) - 1) end`,
  },
}

/** The client with {@link SCRIPTS} defined; variadic scripts take the number of keys first. */
type ScriptedRedis = Redis & {
  bcClaim(numberOfKeys: number, ...keysThenArgs: (string | number)[]): Promise<number>
  bcAddMember(set: string, member: string, ttl: number): Promise<unknown>
  bcReadIndex(
    numberOfKeys: number,
    ...keysThenPrefix: string[]
  ): Promise<[string[], (string | null)[], (string | null)[]]>
  bcSetMany(numberOfKeys: number, ...keysThenArgs: (string | number)[]): Promise<unknown>
  bcAppend(numberOfKeys: number, ...keysThenArgs: (string | number)[]): Promise<unknown>
}

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
  const client = storage.getMount('').driver.getInstance?.() as ScriptedRedis
  for (const [name, script] of Object.entries(SCRIPTS)) client.defineCommand(name, script)
  // Connection errors are retried by ioredis; each command that fails meanwhile rejects and
  // surfaces as ERR_STORE_UNAVAILABLE. Without a listener ioredis would print every retry.
  client.on('error', () => {})
  const k = (key: string) => `${base}:${key}`
  const parse = (value: string | null | undefined): unknown => (value ? JSON.parse(value) : null)
  /** The keys of records to write, and their values and ttls as bcSetMany's and bcClaim's ARGV. */
  const records = (entries: RecordWrite[], now: number) => ({
    keys: entries.map(({ key }) => k(key)),
    args: entries.flatMap(({ value, expiresAt }) => [JSON.stringify(value), ttlSeconds(expiresAt, now)]),
  })
  const claimAndSetMany: NonNullable<StoreBackend['claimAndSetMany']> = async (claim, entries, now) => {
    const { keys, args } = records(entries, now)
    const ms = ttlSeconds(claim.expiresAt, now) * 1000
    return (await client.bcClaim(1 + keys.length, k(claim.key), ...keys, claim.expiresAt, now, ms, ...args)) === 1
  }

  const backend: StoreBackend = {
    storage,

    claim: (key, expiresAt, now) => claimAndSetMany({ key, expiresAt }, [], now),
    claimAndSetMany,

    async release(key) {
      await client.del(k(key))
    },

    async addMember(set, member, expiresAt) {
      await client.bcAddMember(k(set), member, ttlSeconds(expiresAt, Date.now() / 1000))
    },

    members: (set) => client.smembers(k(set)),

    async readIndex(set, prefix, also = []) {
      const [members, values, alsoValues] = await client.bcReadIndex(1 + also.length, k(set), ...also.map(k), k(prefix))
      return {
        members: members.map((member, i) => ({ member, value: parse(values[i]) })),
        also: also.map((_, i) => parse(alsoValues[i])),
      }
    },

    async removeMembers(set, members) {
      if (members.length > 0) await client.srem(k(set), ...members)
    },

    async getMany(keys) {
      if (keys.length === 0) return []
      return (await client.mget(keys.map(k))).map(parse)
    },

    async setMany(entries, now) {
      if (entries.length === 0) return
      const { keys, args } = records(entries, now)
      await client.bcSetMany(keys.length, ...keys, ...args)
    },

    async append(entries, maxEntries) {
      const logs = [...new Set(entries.map(({ log }) => log))]
      const args = entries.flatMap(({ log, id, entry }) => [logs.indexOf(log) + 1, `${id}\n${entry}`])
      await client.bcAppend(logs.length, ...logs.map(k), maxEntries, ...args)
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
