/**
 * The gateway's configuration: environment variables, overridden by CLI flags, checked before
 * anything listens. A bad value is a {@link ConfigError} naming the variable.
 * @module
 */
import cluster from 'node:cluster'
import { availableParallelism } from 'node:os'
import { BackchannelError } from '@backchannel/core'
import { parseRedisUrl } from '@backchannel/unstorage/redis-url'
import { parseCidr } from './client-address.js'
import type { FailureLimits } from './rate-limit.js'

/** A configuration value that cannot be used; `variable` names it. */
export class ConfigError extends BackchannelError {
  static override code = 'ERR_CONFIG'
  readonly variable: string
  constructor(variable: string, message: string) {
    super(`${variable}: ${message}`)
    this.variable = variable
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

/** The checked configuration. */
export interface Config {
  port: number
  host: string
  /** `BACKCHANNEL_PUBLIC_URL`: the gateway's own issuer (relayed tokens, `/.well-known`), without a trailing slash. */
  publicUrl: string
  storage: StorageConfig
  /** The admin token, when set in the environment (otherwise generated at first start). */
  adminToken?: string
  /** 32 bytes, when set. Required with shared storage. */
  masterKey?: Uint8Array
  allowInsecureIssuers: boolean
  trustedIssuerHosts: string[]
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
  /**
   * `BACKCHANNEL_TRUST_PROXY`: the peer is a reverse proxy, whatever its address, so the client is
   * the rightmost `X-Forwarded-For` entry (the one that proxy added). Prefer {@link trustedProxies}.
   */
  trustProxy: boolean
  /** `BACKCHANNEL_TRUSTED_PROXIES`: CIDRs of reverse proxies, skipped from the right of `X-Forwarded-For`. */
  trustedProxies: string[]
  /** `BACKCHANNEL_FAILURE_LIMITS`: failed logouts allowed per address, per app, per window (seconds). */
  failureLimits: Required<FailureLimits>
  /** Gateway processes sharing the port (`BACKCHANNEL_WORKERS`; `auto`: one per core). */
  workers: number
}

/** Values from the command line, by variable name, taking precedence over the environment. */
export type ConfigOverrides = Partial<Record<(typeof VARIABLES)[number], string | undefined>>

/** Every environment variable the gateway reads. */
export const VARIABLES = [
  'PORT',
  'HOST',
  'BACKCHANNEL_PUBLIC_URL',
  'BACKCHANNEL_STORAGE',
  'BACKCHANNEL_ADMIN_TOKEN',
  'BACKCHANNEL_MASTER_KEY',
  'BACKCHANNEL_ALLOW_INSECURE_ISSUERS',
  'BACKCHANNEL_TRUSTED_ISSUER_HOSTS',
  'BACKCHANNEL_LOG_LEVEL',
  'BACKCHANNEL_TRUST_PROXY',
  'BACKCHANNEL_TRUSTED_PROXIES',
  'BACKCHANNEL_FAILURE_LIMITS',
  'BACKCHANNEL_WORKERS',
] as const

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

/**
 * Reads and checks the configuration.
 * @throws {ConfigError} naming the first variable that is wrong.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: ConfigOverrides = {}): Config {
  const get = (name: (typeof VARIABLES)[number]) => {
    const value = overrides[name] ?? env[name]
    return value === undefined || value.trim() === '' ? undefined : value.trim()
  }

  const portText = get('PORT') ?? '3000'
  const port = Number(portText)
  if (!/^\d+$/.test(portText) || port > 65535) throw new ConfigError('PORT', `${portText} is not a port (0–65535)`)

  const storage = parseStorage(get('BACKCHANNEL_STORAGE') ?? 'fs://./.backchannel')

  const keyText = get('BACKCHANNEL_MASTER_KEY')
  let masterKey: Uint8Array | undefined
  if (keyText !== undefined) {
    masterKey = Buffer.from(keyText, 'base64url')
    if (!/^[A-Za-z0-9_-]+$/.test(keyText) || masterKey.byteLength !== 32) {
      throw new ConfigError(
        'BACKCHANNEL_MASTER_KEY',
        'must be 32 bytes in base64url (43 characters); make one with: openssl rand -base64 32 | tr "+/" "-_" | tr -d "="',
      )
    }
  } else if (storage.kind !== 'memory' && storage.kind !== 'fs') {
    throw new ConfigError(
      'BACKCHANNEL_MASTER_KEY',
      `required with ${storage.kind} storage: every instance must encrypt and decrypt application secrets with the same key`,
    )
  }

  const adminToken = get('BACKCHANNEL_ADMIN_TOKEN')
  if (adminToken !== undefined && adminToken.length < 24) {
    throw new ConfigError(
      'BACKCHANNEL_ADMIN_TOKEN',
      'must be at least 24 characters (leave it unset to have one generated)',
    )
  }

  const logLevel = (get('BACKCHANNEL_LOG_LEVEL') ?? 'info').toLowerCase()
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new ConfigError('BACKCHANNEL_LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}`)
  }

  const workersText = get('BACKCHANNEL_WORKERS') ?? '1'
  const workers = workersText.toLowerCase() === 'auto' ? availableParallelism() : Number(workersText)
  if (!/^(\d+|auto)$/i.test(workersText) || workers < 1 || workers > 64) {
    throw new ConfigError('BACKCHANNEL_WORKERS', `${workersText} is not a number of processes (1–64) or auto`)
  }
  if (workers > 1 && storage.kind === 'memory') {
    throw new ConfigError(
      'BACKCHANNEL_WORKERS',
      'memory:// keeps sessions inside each process, so workers would not see each other’s logouts: ' +
        'use fs://, redis://, postgres:// or mongodb:// with several workers',
    )
  }

  return {
    port,
    host: get('HOST') ?? '0.0.0.0',
    publicUrl: parsePublicUrl(get('BACKCHANNEL_PUBLIC_URL') ?? `http://localhost:${port}`),
    storage,
    ...(adminToken === undefined ? {} : { adminToken }),
    ...(masterKey === undefined ? {} : { masterKey }),
    allowInsecureIssuers: parseBoolean('BACKCHANNEL_ALLOW_INSECURE_ISSUERS', get('BACKCHANNEL_ALLOW_INSECURE_ISSUERS')),
    trustedIssuerHosts: commaList(get('BACKCHANNEL_TRUSTED_ISSUER_HOSTS')).map((h) => h.toLowerCase()),
    logLevel: logLevel as Config['logLevel'],
    trustProxy: parseBoolean('BACKCHANNEL_TRUST_PROXY', get('BACKCHANNEL_TRUST_PROXY')),
    trustedProxies: parseProxies(get('BACKCHANNEL_TRUSTED_PROXIES')),
    failureLimits: parseFailureLimits(get('BACKCHANNEL_FAILURE_LIMITS')),
    workers,
  }
}

/** An absolute http(s) URL without query or fragment; a bare origin without its `/`, as issuers are usually written. */
function parsePublicUrl(value: string): string {
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
function commaList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean)
}

// Only true/false: `yes`, `1` or `on` silently enabling insecure issuers was a trap.
function parseBoolean(variable: string, value: string | undefined): boolean {
  if (value === undefined) return false
  if (/^true$/i.test(value)) return true
  if (/^false$/i.test(value)) return false
  throw new ConfigError(variable, `${JSON.stringify(value)} is not true or false`)
}

function parseProxies(value: string | undefined): string[] {
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

function parseFailureLimits(value: string | undefined): Required<FailureLimits> {
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

function parseStorage(value: string): StorageConfig {
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
function checkedUrl(value: string, scheme: string): string {
  try {
    new URL(value)
  } catch {
    throw new ConfigError('BACKCHANNEL_STORAGE', `is not a valid ${scheme}:// URL`)
  }
  return value
}

/** Whether this process is one of the workers of `backchannel serve --workers N` (see workers.ts). */
export const isGatewayWorker = () => cluster.isWorker && process.env.BACKCHANNEL_WORKER === '1'
