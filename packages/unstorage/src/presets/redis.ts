/**
 * `@backchannel/unstorage/redis`: shared storage for several gateway instances, on one Redis
 * server, a Sentinel-managed master or a Redis Cluster (Redis 7+ or Valkey). Records go through
 * an unstorage driver; the preset adds what unstorage cannot express, each operation one Lua
 * script: an atomic claim, atomic multi-key writes and a capped, ordered audit log (a sorted set
 * read by lexical range). With Sentinel and Cluster, every write whose acknowledgement matters
 * waits for a replica (`WAIT`) before it counts as done.
 * The key layout, its memory cost and what each URL choice risks are in this package's README.
 *
 * @example
 * ```ts
 * import { redisStore } from '@backchannel/unstorage/redis'
 * const store = redisStore({ url: 'redis+sentinel://10.0.0.1:26379,10.0.0.2:26379/mymaster', masterKey })
 * ```
 * @module
 */
import type { ChainableCommander, Redis, RedisOptions } from 'ioredis'
import { createStorage, defineDriver } from 'unstorage'
import { FOREVER, keyKind } from '../_internal/keys.js'
import { type DumpEntry, type RecordWrite, type StoreBackend, ttlSeconds } from '../backend.js'
import { type BackchannelStore, createStore, type StoreOptions } from '../store.js'
import {
  connect,
  keyNamer,
  type RedisClient,
  ReplicasBehind,
  scanAll,
  scanPages,
  writeAndWait,
} from './redis-client.js'
import { parseRedisUrl } from './redis-url.js'

export { parseRedisUrl, type RedisNode, type RedisTarget } from './redis-url.js'

/** Options of {@link redisStore}. */
export interface RedisStoreOptions extends StoreOptions {
  /**
   * `redis[s]://[user:password@]host:port[/db]`,
   * `redis[s]+sentinel://[user:password@]host:port,host:port/master-name[/db]` or
   * `redis[s]+cluster://[user:password@]host:port,host:port`, each with an optional
   * `?replicas=N` (replicas that must acknowledge each write; default 1 with Sentinel and
   * Cluster, 0 for one server) and `?replicaTimeout=MS` (default 1000). See {@link parseRedisUrl}.
   */
  url: string
  /** Prefix of every key. Default `bc`. */
  base?: string
  /** Extra ioredis options, for each data node. */
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
  // values at KEYS[2..]: one round trip where SMEMBERS and an MGET take two. It reads keys it
  // is not given, which one server allows; on a cluster, where every script must declare the
  // keys it touches, the preset sends SMEMBERS and MGET instead.
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
  // For an export: the expiry of KEYS[1] (Unix ms; -1 none, -2 gone), then what it holds, read
  // as ARGV[1] says its kind is (keyKind). Absolute expiries survive the move unchanged.
  bcDump: {
    numberOfKeys: 1,
    lua: `local at = redis.call('PEXPIRETIME', KEYS[1])
if ARGV[1] == 'set' then return {at, redis.call('SMEMBERS', KEYS[1])} end
if ARGV[1] == 'log' then return {at, redis.call('ZRANGE', KEYS[1], 0, -1)} end
return {at, redis.call('GET', KEYS[1])}`,
  },
  // For an import: writes one dumped entry of kind ARGV[1] at KEYS[1]; expiries (ARGV[3]) are
  // Unix ms, '' for none. A claim or a set keeps the later expiry of the two.
  bcLoad: {
    numberOfKeys: 1,
    lua: `local kind, at = ARGV[1], ARGV[3]
if kind == 'record' and at == '' then redis.call('SET', KEYS[1], ARGV[2], 'NX')
elseif kind == 'record' then redis.call('SET', KEYS[1], ARGV[2], 'PXAT', at, 'NX')
elseif kind == 'claim' then
  local held = redis.call('GET', KEYS[1])
  if not held or tonumber(held) < tonumber(ARGV[2]) then redis.call('SET', KEYS[1], ARGV[2], 'PXAT', at) end
elseif kind == 'member' then
  redis.call('SADD', KEYS[1], ARGV[2])
  redis.call('PEXPIREAT', KEYS[1], at, 'NX')
  redis.call('PEXPIREAT', KEYS[1], at, 'GT')
else redis.call('ZADD', KEYS[1], 0, ARGV[2]) end`,
  },
}

/** What a dumped Redis key holds: its expiry (Unix ms, negative for none), then its value or members. */
type Dumped = [at: number, value?: string | string[] | null]

/** A client or pipeline with {@link SCRIPTS} defined (variadic scripts take the number of keys first). */
type Scripted<T, Reply> = T & { [name in keyof typeof SCRIPTS]: (...args: (string | number)[]) => Reply }
type ScriptedPipeline = Scripted<ChainableCommander, ChainableCommander>

/** The hash tag of a Redis key: what decides its slot on a cluster, when it has one. */
const slotTag = (name: string) => /\{[^}]+\}/.exec(name)?.[0]

/**
 * A store on Redis (≥ 7) or Valkey: one server, Sentinel or Cluster, as the URL says.
 * @throws {TypeError} when the URL is not one of the forms of {@link RedisStoreOptions.url}.
 */
export function redisStore(options: RedisStoreOptions): BackchannelStore {
  const target = parseRedisUrl(options.url)
  const cluster = target.mode === 'cluster'
  const client = connect(target, options.redis) as Scripted<RedisClient, Promise<unknown>>
  for (const [name, script] of Object.entries(SCRIPTS)) client.defineCommand(name, script)
  // Connection errors are retried by ioredis; each command that fails meanwhile rejects and
  // surfaces as ERR_STORE_UNAVAILABLE. Without a listener ioredis would print every retry.
  client.on('error', () => {})
  client.on('node error', () => {})
  const { name: k, key: unname } = keyNamer(options.base ?? 'bc', cluster)
  const parse = (value: string | null | undefined): unknown => (value ? JSON.parse(value) : null)
  /** One write, acknowledged once `target.replicas` replicas have it. */
  const write = (queue: (pipeline: ScriptedPipeline) => unknown) =>
    writeAndWait(client, target.replicas, target.replicaTimeout, queue as (p: ChainableCommander) => unknown)
  /** A claim (reply 1) whose replicas fell behind is given back, so the retry runs the logout. */
  const claimed = async (queue: (pipeline: ScriptedPipeline) => unknown, claimKey: string) => {
    try {
      return (await write(queue)) === 1
    } catch (err) {
      if (err instanceof ReplicasBehind && err.reply === 1) await client.del(claimKey).catch(() => {})
      throw err
    }
  }
  /** MGET, or on a cluster one GET each unless every key is in one application's slot. */
  const mget = async (names: string[]): Promise<(string | null)[]> => {
    if (names.length === 0) return []
    const first = slotTag(names[0] as string)
    if (!cluster || (first && names.every((n) => slotTag(n) === first))) {
      return client.mget(names)
    }
    return Promise.all(names.map((name) => client.get(name)))
  }
  /** The keys of records to write, and their values and ttls as bcSetMany's and bcClaim's ARGV. */
  const records = (entries: RecordWrite[], now: number) => ({
    keys: entries.map(({ key }) => k(key)),
    args: entries.flatMap(({ value, expiresAt }) => [JSON.stringify(value), ttlSeconds(expiresAt, now)]),
  })

  /**
   * Runs one script call per item: pipelined on one server (one round trip), routed key by key
   * on a cluster, where one pipeline may touch one slot only.
   */
  const each = async <T>(items: T[], call: (target: ScriptedPipeline | typeof client, item: T) => unknown) => {
    if (cluster) return Promise.all(items.map((item) => call(client, item)))
    const pipeline = client.pipeline() as ScriptedPipeline
    for (const item of items) call(pipeline, item)
    const results = (await pipeline.exec()) ?? []
    return results.map(([err, reply]) => {
      if (err) throw err
      return reply
    })
  }

  /** The dump entries of one Redis key, as its store key's kind says. */
  const dumped = (name: string, [at, value]: Dumped, now: number): DumpEntry[] => {
    const key = unname(name)
    const kind = keyKind(key)
    if (at === -2 || value === undefined || value === null) return []
    const until = at < 0 ? null : at / 1000
    if (kind === 'claim') return Number(value) > now ? [{ kind: 'claim', key, expiresAt: Number(value) }] : []
    if (kind === 'log') {
      return (value as string[]).map((m) => {
        const cut = m.indexOf('\n')
        return { kind: 'log', log: key, id: m.slice(0, cut), entry: m.slice(cut + 1) }
      })
    }
    if (until !== null && until <= now) return []
    if (kind === 'record') return [{ kind: 'record', key, value: value as string, expiresAt: until }]
    return (value as string[]).map((member) => ({
      kind: 'member',
      set: key,
      member,
      expiresAt: until ?? now + FOREVER,
    }))
  }

  const storage = createStorage({
    driver: defineDriver(() => ({
      name: 'backchannel-redis',
      getInstance: () => client,
      hasItem: async (key) => (await client.exists(k(key))) > 0,
      getItem: (key) => client.get(k(key)),
      getItems: async (items) => {
        const values = await mget(items.map(({ key }) => k(key)))
        return items.map(({ key }, i) => ({ key, value: values[i] ?? null }))
      },
      async setItem(key, value, { ttl } = {}) {
        await write((p) => (ttl ? p.set(k(key), value, 'EX', ttl) : p.set(k(key), value)))
      },
      async removeItem(key) {
        await write((p) => p.unlink(k(key)))
      },
      getKeys: async (base) => (await scanAll(client, `${k(base ?? '')}*`)).map(unname),
      async clear(base) {
        for (const name of await scanAll(client, `${k(base ?? '')}*`)) await client.unlink(name)
      },
      dispose: () => client.disconnect(),
    }))(undefined),
  })

  const backend: StoreBackend = {
    storage,

    claim: (key, expiresAt, now) =>
      claimed((p) => p.bcClaim(1, k(key), expiresAt, now, ttlSeconds(expiresAt, now) * 1000), k(key)),

    async release(key) {
      await client.del(k(key))
    },

    async addMember(set, member, expiresAt) {
      await write((p) => p.bcAddMember(k(set), member, ttlSeconds(expiresAt, Date.now() / 1000)))
    },

    members: (set) => client.smembers(k(set)),

    async readIndex(set, prefix, also = []) {
      let members: string[]
      let values: (string | null)[]
      let alsoValues: (string | null)[]
      if (cluster) {
        members = await client.smembers(k(set))
        const read = await mget([...members.map((m) => k(prefix + m)), ...also.map(k)])
        values = read.slice(0, members.length)
        alsoValues = read.slice(members.length)
      } else {
        ;[members, values, alsoValues] = (await client.bcReadIndex(
          1 + also.length,
          k(set),
          ...also.map(k),
          k(prefix),
        )) as [string[], (string | null)[], (string | null)[]]
      }
      return {
        members: members.map((member, i) => ({ member, value: parse(values[i]) })),
        also: also.map((_, i) => parse(alsoValues[i])),
      }
    },

    async removeMembers(set, members) {
      if (members.length > 0) await client.srem(k(set), ...members)
    },

    getMany: async (keys) => (await mget(keys.map(k))).map(parse),

    async setMany(entries, now) {
      // A revocation writes one application's keys, one slot on a cluster: one script. Keys
      // in several slots (a cluster only) are written slot by slot, each group atomic.
      const groups = new Map<string, RecordWrite[]>()
      for (const entry of entries) {
        const group = cluster ? (slotTag(k(entry.key)) ?? entry.key) : ''
        groups.set(group, [...(groups.get(group) ?? []), entry])
      }
      await Promise.all(
        [...groups.values()].map((group) => {
          const { keys, args } = records(group, now)
          return write((p) => p.bcSetMany(keys.length, ...keys, ...args))
        }),
      )
    },

    async append(entries, maxEntries) {
      const logs = [...new Set(entries.map(({ log }) => log))]
      const args = (only?: string) =>
        entries.flatMap(({ log, id, entry }) =>
          only === undefined || log === only ? [only === undefined ? logs.indexOf(log) + 1 : 1, `${id}\n${entry}`] : [],
        )
      // A cluster keeps each log in its own slot: one script per log there. Audit entries are
      // written after the answer and do not wait for replicas.
      if (!cluster) await client.bcAppend(logs.length, ...logs.map(k), maxEntries, ...args())
      else await Promise.all(logs.map((log) => client.bcAppend(1, k(log), maxEntries, ...args(log))))
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
      const found = await scanAll(client, `${k(prefix)}:*`)
      // On a cluster the keys of one application share a slot: one UNLINK may take many.
      for (let i = 0; i < found.length; i += 1000) {
        await write((p) => p.unlink(...found.slice(i, i + 1000)))
      }
    },

    async *dump(now) {
      // Every master of a cluster, a SCAN reply at a time; a key gone before its read is left out.
      for await (const names of scanPages(client, `${k('')}*`)) {
        const replies = await each(names, (c, name) => c.bcDump(name, keyKind(unname(name))))
        for (const [i, name] of names.entries()) yield* dumped(name, replies[i] as Dumped, now)
      }
    },

    async load(entries) {
      const ms = (until: number | null) => (until === null ? '' : Math.round(until * 1000))
      const args = (e: DumpEntry): [string, string, string | number, string | number] => {
        if (e.kind === 'record') return [k(e.key), e.kind, e.value, ms(e.expiresAt)]
        if (e.kind === 'claim') return [k(e.key), e.kind, e.expiresAt, Math.ceil(e.expiresAt * 1000)]
        if (e.kind === 'member') return [k(e.set), e.kind, e.member, ms(e.expiresAt)]
        return [k(e.log), e.kind, `${e.id}\n${e.entry}`, '']
      }
      await each(entries, (c, e) => c.bcLoad(...args(e)))
      // One server or Sentinel: one connection, so one WAIT covers the batch. A cluster spreads
      // the batch over its masters' connections: no WAIT there (docs/operations.md says so).
      if (!cluster && target.replicas > 0) {
        const got = Number(await (client as Redis).wait(target.replicas, target.replicaTimeout))
        if (got < target.replicas) throw new ReplicasBehind(target.replicas, got, target.replicaTimeout, undefined)
      }
    },

    async ping() {
      await client.ping()
    },

    async dispose() {
      await storage.dispose()
    },
  }
  // A cluster keeps claims in slots of their own, away from the application's keys the
  // revocation writes: no single script can do both there, so the flow claims, then revokes.
  if (!cluster) {
    backend.claimAndSetMany = (claim, entries, now) => {
      const { keys, args } = records(entries, now)
      const ms = ttlSeconds(claim.expiresAt, now) * 1000
      const name = k(claim.key)
      return claimed((p) => p.bcClaim(1 + keys.length, name, ...keys, claim.expiresAt, now, ms, ...args), name)
    }
  }
  return createStore(backend, options)
}
