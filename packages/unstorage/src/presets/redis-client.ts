/**
 * The connection of {@link redisStore}: one ioredis client for a server, a Sentinel-managed
 * master or a cluster; the key layout on each; and writes that wait for replicas.
 * @module
 */
import { type ChainableCommander, Cluster, Redis, type RedisOptions } from 'ioredis'
import type { RedisTarget } from './redis-url.js'

/** A client of either shape: both run the same commands, scripts and pipelines. */
export type RedisClient = Redis | Cluster

/** Opens the client a parsed URL asks for; `extra` are more ioredis options for each data node. */
export function connect(target: RedisTarget, extra: RedisOptions = {}): RedisClient {
  const options: RedisOptions = {
    // Fail fast while Redis is down (the gateway answers 503) and reconnect by itself.
    maxRetriesPerRequest: 1,
    commandTimeout: 5000 + target.replicaTimeout,
    ...(target.username ? { username: target.username } : {}),
    ...(target.password === undefined ? {} : { password: target.password }),
    ...(target.tls ? { tls: {} } : {}),
    // A command cut off by a lost connection is not sent again on the next one: a WAIT resent
    // to a new master would count replicas of nothing and acknowledge a write that is gone.
    ...(target.replicas > 0 ? { autoResendUnfulfilledCommands: false } : {}),
    ...extra,
  }
  const [first = { host: '127.0.0.1', port: 6379 }] = target.nodes
  if (target.mode === 'cluster') {
    return new Cluster(target.nodes, { redisOptions: options, scaleReads: 'master' })
  }
  if (target.mode === 'sentinel') {
    return new Redis({
      sentinels: target.nodes,
      name: target.name,
      db: target.db,
      // Told of a failover by the Sentinels at once, rather than writing to the old master
      // until it is demoted (about 11 s with Redis 7.0, every write in between lost).
      failoverDetector: true,
      ...(target.tls ? { enableTLSForSentinelMode: true, sentinelTLS: {} } : {}),
      ...options,
    })
  }
  return new Redis({ host: first.host, port: first.port, db: target.db, ...options })
}

/**
 * How a store key is named in Redis: under `base`, and on a cluster with the application's part
 * (`a:<hash>`) as a hash tag, so that every key of one application lives in one slot and one
 * script may touch several. One server and Sentinel keep the untagged names they always had.
 */
export function keyNamer(base: string, cluster: boolean) {
  const tag = (key: string) => (cluster ? key.replace(/^(a:[^:]+)(?=:|$)/, '{$1}') : key)
  return {
    name: (key: string) => `${base}:${tag(key)}`,
    /** The store key of a Redis key (the inverse of `name`). */
    key: (name: string) => {
      const key = name.slice(base.length + 1)
      return cluster ? key.replace(/^\{(a:[^}]+)\}/, '$1') : key
    },
  }
}

/** Every key matching a `SCAN` pattern, on every master of a cluster. */
export async function scanAll(client: RedisClient, pattern: string): Promise<string[]> {
  const found: string[] = []
  for await (const keys of scanPages(client, pattern)) found.push(...keys)
  return found
}

/**
 * The keys matching a `SCAN` pattern, one reply at a time (up to about 1,000), on every master of
 * a cluster: an export of millions of keys never holds all their names. A key may come twice.
 */
export async function* scanPages(client: RedisClient, pattern: string): AsyncGenerator<string[]> {
  for (const node of client instanceof Cluster ? client.nodes('master') : [client]) {
    let cursor = '0'
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
      if (keys.length > 0) yield keys
      cursor = next
    } while (cursor !== '0')
  }
}

/**
 * Runs one write then, when `replicas` > 0, `WAIT replicas timeout` on the same connection (on
 * a cluster: the node owning the key's slot), in one pipeline.
 * @returns the write's reply.
 * @throws {ReplicasBehind} when fewer replicas acknowledged it in time: the master has it, but
 * a failover now would lose it.
 */
export async function writeAndWait(
  client: RedisClient,
  replicas: number,
  timeout: number,
  queue: (pipeline: ChainableCommander) => unknown,
): Promise<unknown> {
  // No replica to wait for: the command alone, without building a pipeline around it.
  if (replicas === 0) return queue(client as unknown as ChainableCommander)
  const pipeline = client.pipeline()
  queue(pipeline)
  if (replicas > 0) pipeline.wait(replicas, timeout)
  const results = (await pipeline.exec()) ?? []
  for (const [err] of results) if (err) throw err
  const reply = results[0]?.[1]
  const acknowledged = Number(results[1]?.[1] ?? 0)
  if (replicas > 0 && acknowledged < replicas) throw new ReplicasBehind(replicas, acknowledged, timeout, reply)
  return reply
}

/** A write the master accepted but too few replicas acknowledged in time (the store answers 503). */
export class ReplicasBehind extends Error {
  constructor(
    wanted: number,
    got: number,
    timeout: number,
    /** The write's own reply (a claim script's 1 or 0). */
    readonly reply: unknown,
  ) {
    super(`${got} of ${wanted} Redis replicas acknowledged the write within ${timeout} ms`)
    this.name = 'ReplicasBehind'
  }
}
