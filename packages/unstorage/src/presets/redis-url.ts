/**
 * The Redis URL forms of {@link redisStore} and what each asks for, parsed without connecting
 * (and without loading ioredis), so that a gateway can refuse a bad URL before it starts.
 * @module
 */

/** One Redis server or Sentinel: a loopback or network address. */
export interface RedisNode {
  host: string
  port: number
}

/** What a Redis URL asks for; see {@link parseRedisUrl}. */
export interface RedisTarget {
  /** `standalone` (`redis://`), `sentinel` (`redis+sentinel://`) or `cluster` (`redis+cluster://`). */
  mode: 'standalone' | 'sentinel' | 'cluster'
  /** TLS to every node: the scheme starts with `rediss`. */
  tls: boolean
  /** The server, the Sentinels or the cluster's seed nodes. */
  nodes: RedisNode[]
  /** The master's name, for Sentinel. */
  name?: string
  /** The database number (not on a cluster, which has only 0). */
  db: number
  username?: string
  password?: string
  /**
   * How many replicas must acknowledge a write (Redis `WAIT`) before it counts as done:
   * `?replicas=N`. Default 1 with Sentinel and Cluster, 0 (no waiting) for one server.
   */
  replicas: number
  /** Milliseconds a write waits for those replicas before failing: `?replicaTimeout=MS`. Default 1000. */
  replicaTimeout: number
}

const SCHEME = /^(rediss?)(\+sentinel|\+cluster)?:\/\/([^/?#]*)([^?#]*)(?:\?([^#]*))?$/i

/**
 * Parses `redis[s]://[user:password@]host[:port][/db]`,
 * `redis[s]+sentinel://[user:password@]host:port,host:port/master-name[/db]` or
 * `redis[s]+cluster://[user:password@]host:port,host:port`, each with an optional
 * `?replicas=N&replicaTimeout=MS`. The user and password are those of the data nodes.
 *
 * @throws {TypeError} naming what is wrong.
 * @example
 * ```ts
 * parseRedisUrl('redis+sentinel://10.0.0.1:26379,10.0.0.2:26379/mymaster?replicas=0')
 * // → { mode: 'sentinel', name: 'mymaster', replicas: 0, replicaTimeout: 1000, … }
 * ```
 */
export function parseRedisUrl(url: string): RedisTarget {
  const match = SCHEME.exec(url)
  if (!match) throw new TypeError('not a redis://, rediss://, redis+sentinel:// or redis+cluster:// URL')
  const [, scheme = '', kind = '', authority = '', path = '', query = ''] = match
  const mode = kind === '' ? 'standalone' : kind.toLowerCase() === '+sentinel' ? 'sentinel' : 'cluster'
  const at = authority.lastIndexOf('@')
  const [username, password] = at < 0 ? [] : splitUserinfo(authority.slice(0, at))
  const hosts = authority.slice(at + 1)
  // Sentinels listen on 26379 unless told otherwise; Redis servers on 6379.
  const defaultPort = mode === 'sentinel' ? 26379 : 6379
  const nodes =
    hosts === '' && mode === 'standalone'
      ? [{ host: '127.0.0.1', port: defaultPort }]
      : hosts.split(',').map((text) => node(text, defaultPort))
  if (mode === 'standalone' && nodes.length > 1) {
    throw new TypeError('a redis:// URL names one server; use redis+sentinel:// or redis+cluster:// for several')
  }
  const segments = path.split('/').filter(Boolean).map(decodeURIComponent)
  let name: string | undefined
  if (mode === 'sentinel') {
    name = segments.shift()
    if (!name) throw new TypeError('a redis+sentinel:// URL must name the master: redis+sentinel://host:port/mymaster')
  }
  const dbText = segments.shift()
  if (segments.length > 0 || (dbText !== undefined && !/^\d+$/.test(dbText))) {
    throw new TypeError(`unexpected path ${JSON.stringify(path)}: only a database number may follow`)
  }
  if (mode === 'cluster' && dbText !== undefined && dbText !== '0') {
    throw new TypeError('Redis Cluster has only database 0')
  }
  const params = new URLSearchParams(query)
  const replicas = count(params, 'replicas', mode === 'standalone' ? 0 : 1)
  const replicaTimeout = count(params, 'replicaTimeout', 1000)
  for (const key of params.keys()) {
    if (key !== 'replicas' && key !== 'replicaTimeout') throw new TypeError(`unknown parameter ?${key}`)
  }
  return {
    mode,
    tls: scheme.toLowerCase() === 'rediss',
    nodes,
    ...(name === undefined ? {} : { name }),
    db: dbText === undefined ? 0 : Number(dbText),
    ...(username ? { username } : {}),
    ...(password === undefined ? {} : { password }),
    replicas,
    replicaTimeout,
  }
}

function splitUserinfo(userinfo: string): [string, string | undefined] {
  const colon = userinfo.indexOf(':')
  if (colon < 0) return [decodeURIComponent(userinfo), undefined]
  return [decodeURIComponent(userinfo.slice(0, colon)), decodeURIComponent(userinfo.slice(colon + 1))]
}

function node(text: string, defaultPort: number): RedisNode {
  // host, host:port, [v6], [v6]:port
  const match = /^(\[[^\]]+\]|[^:[\]]+)(?::(\d+))?$/.exec(text)
  const port = Number(match?.[2] ?? defaultPort)
  if (!match?.[1] || port < 1 || port > 65535) throw new TypeError(`${JSON.stringify(text)} is not host:port`)
  return { host: match[1].replace(/^\[|\]$/g, ''), port }
}

function count(params: URLSearchParams, key: string, fallback: number): number {
  const text = params.get(key)
  if (text === null) return fallback
  if (!/^\d+$/.test(text)) throw new TypeError(`?${key}=${text} is not a whole number`)
  return Number(text)
}
