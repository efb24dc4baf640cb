/**
 * The parsers of the gateway's configuration values, each refusing a bad value with a
 * {@link ConfigError} that names its variable. `config.ts` decides which setting each value comes
 * from; these only read one value.
 * @module
 */
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { BackchannelError, errors, type OutboundProxy, proxyFromEnv } from '@backchannel/core'
import { parseRedisUrl } from '@backchannel/unstorage/redis-url'
import { parseCidr } from './client-address.js'
import type { FailureLimits } from './rate-limit.js'

/**
 * A configuration value that cannot be used; `variable` names it and `source`, when it was set,
 * says where (`set by flag --port`, `set in the environment`, `set in /etc/backchannel.config.json as "port"`).
 */
export class ConfigError extends BackchannelError {
  static override code = 'ERR_CONFIG'
  readonly variable: string
  /** What is wrong with it, without the variable's name. */
  readonly reason: string
  readonly source: string | undefined
  constructor(variable: string, reason: string, source?: string) {
    super(`${variable}: ${reason}${source ? `; ${source}` : ''}`)
    this.variable = variable
    this.reason = reason
    this.source = source
  }
}

/** Where the gateway keeps its data. */
export type StorageConfig =
  | { kind: 'memory' }
  | { kind: 'fs'; path: string }
  /** Any of `redis[s]://`, `redis[s]+sentinel://`, `redis[s]+cluster://` (parsed by the preset). */
  | { kind: 'redis'; url: string }
  | { kind: 'mongodb'; url: string; database?: string }
  | { kind: 'postgres'; url: string }

/** A `host:port` to listen on. */
export interface ListenAddress {
  host: string
  port: number
}

// Core reads and checks the proxy variables (curl's names and rules); a bad one stops the server here.
export function readProxy(env: NodeJS.ProcessEnv): OutboundProxy | undefined {
  try {
    return proxyFromEnv(env)
  } catch (err) {
    if (err instanceof errors.ProxyInvalid) throw new ConfigError(err.variable, err.reason)
    throw err
  }
}

/** `host:port` (`[::1]:9000` for IPv6), or undefined when unset. */
export function parseAddress(value: string | undefined): ListenAddress | undefined {
  if (value === undefined) return undefined
  const match = /^(\[[0-9a-f:.]+\]|[^\s:[\]/]+):(\d{1,5})$/i.exec(value)
  const port = Number(match?.[2])
  if (!match?.[1] || port > 65535) {
    throw new ConfigError(
      'BACKCHANNEL_MANAGEMENT_ADDRESS',
      `${JSON.stringify(value)} is not host:port (e.g. 127.0.0.1:9000, [::1]:9000, 10.0.0.5:9000)`,
    )
  }
  return { host: match[1].replace(/^\[(.*)\]$/, '$1'), port }
}

/** The plugin's path resolved against the working folder; it must exist (it is imported at start). */
export function revokerPath(value: string | undefined): string | undefined {
  if (value === undefined) return undefined
  const path = resolve(value)
  if (!existsSync(path)) {
    throw new ConfigError('BACKCHANNEL_REVOKER', `the revoker plugin ${value} (--revoker) does not exist (${path})`)
  }
  return path
}

/** An absolute http(s) URL without query or fragment; a bare origin without its `/`, as issuers are usually written. */
export function parsePublicUrl(value: string): string {
  let url: URL | undefined
  try {
    url = new URL(value)
  } catch {}
  if (!url || !/^https?:$/.test(url.protocol) || url.search || url.hash || value.includes('?') || value.includes('#')) {
    throw new ConfigError(
      'BACKCHANNEL_PUBLIC_URL',
      `${JSON.stringify(value)} is not an absolute http(s) URL without query or fragment (e.g. https://gateway.example.com)`,
    )
  }
  return url.pathname === '/' ? url.origin : url.href
}

/** The non-empty, trimmed items of a comma-separated value. */
export function commaList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean)
}

// Only true/false: `yes`, `1` or `on` silently enabling insecure issuers was a trap.
export function parseBoolean(variable: string, value: string | undefined): boolean {
  if (value === undefined) return false
  if (/^true$/i.test(value)) return true
  if (/^false$/i.test(value)) return false
  throw new ConfigError(variable, `${JSON.stringify(value)} is not true or false`)
}

export function parseProxies(value: string | undefined): string[] {
  const cidrs = commaList(value)
  for (const cidr of cidrs) {
    if (!parseCidr(cidr)) {
      throw new ConfigError(
        'BACKCHANNEL_TRUSTED_PROXIES',
        `${JSON.stringify(cidr)} is not an address or CIDR (e.g. 10.0.0.0/8, 192.0.2.7, fd00::/8)`,
      )
    }
  }
  return cidrs
}

export function parseFailureLimits(value: string | undefined): Required<FailureLimits> {
  const parts = (value ?? '30,300,60').split(',').map((p) => p.trim())
  const numbers = parts.map(Number)
  const [perAddress, perApp, window] = numbers
  if (
    parts.length !== 3 ||
    !parts.every((p) => /^\d+$/.test(p)) ||
    perAddress === undefined ||
    perApp === undefined ||
    window === undefined ||
    window < 1
  ) {
    throw new ConfigError(
      'BACKCHANNEL_FAILURE_LIMITS',
      `${JSON.stringify(value)} is not three whole numbers: failures per address, per app, per window of seconds (default 30,300,60)`,
    )
  }
  return { perAddress, perApp, window }
}

export function parseStorage(value: string): StorageConfig {
  const variable = 'BACKCHANNEL_STORAGE'
  const scheme = /^([a-z+]+):\/\//i.exec(value)?.[1]?.toLowerCase()
  switch (scheme) {
    case 'memory':
      return { kind: 'memory' }
    case 'fs': {
      const path = value.slice('fs://'.length)
      if (!path)
        throw new ConfigError(variable, 'fs:// needs a folder, e.g. fs://./.backchannel or fs:///var/lib/backchannel')
      return { kind: 'fs', path }
    }
    case 'redis':
    case 'rediss':
    case 'redis+sentinel':
    case 'rediss+sentinel':
    case 'redis+cluster':
    case 'rediss+cluster':
      try {
        parseRedisUrl(value)
      } catch (err) {
        throw new ConfigError(variable, `is not a usable Redis URL: ${(err as Error).message}`)
      }
      return { kind: 'redis', url: value }
    case 'mongodb':
    case 'mongodb+srv': {
      let url: URL
      try {
        url = new URL(value)
      } catch {
        throw new ConfigError(variable, 'is not a valid mongodb:// URL')
      }
      const database = url.pathname.replace(/^\//, '') || undefined
      return { kind: 'mongodb', url: value, ...(database ? { database } : {}) }
    }
    case 'postgres':
    case 'postgresql':
      return { kind: 'postgres', url: checkedUrl(value, 'postgres') }
    default:
      throw new ConfigError(
        variable,
        `${JSON.stringify(value)} is not memory://, fs://PATH, redis://…, redis+sentinel://…, redis+cluster://…, mongodb://… or postgres://…`,
      )
  }
}

/** `value` when it parses as a URL, else a {@link ConfigError} naming the scheme expected. */
export function checkedUrl(value: string, scheme: string): string {
  try {
    new URL(value)
  } catch {
    throw new ConfigError('BACKCHANNEL_STORAGE', `is not a valid ${scheme}:// URL`)
  }
  return value
}
