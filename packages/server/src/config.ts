/**
 * The gateway's configuration: CLI flags over environment variables over a config file
 * (config-file.ts), checked in one place before anything listens. A bad value is a
 * {@link ConfigError} naming the variable and where its value came from.
 * @module
 */
import cluster from 'node:cluster'
import { readFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import type { OutboundProxy } from '@backchannel/core'
import {
  ConfigError,
  commaList,
  type ListenAddress,
  parseAddress,
  parseBoolean,
  parseFailureLimits,
  parseProxies,
  parsePublicUrl,
  parseStorage,
  readProxy,
  revokerPath,
  type StorageConfig,
} from './config-values.js'
import type { FailureLimits } from './rate-limit.js'

export { ConfigError, type ListenAddress, type StorageConfig } from './config-values.js'

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
  /**
   * `BACKCHANNEL_MANAGEMENT_ADDRESS`: a second listener for the management paths (`/trpc`,
   * `/metrics`, see `MANAGEMENT_PATHS`), which the public listener then answers 404.
   */
  managementAddress?: ListenAddress
  /** `HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY` (or lowercase): the forward proxy of outbound requests. */
  proxy?: OutboundProxy
  /** `BACKCHANNEL_REVOKER`: absolute path of a revoker plugin module (see `defineRevokerPlugin`). */
  revoker?: string
}

/** Every environment variable the gateway reads (besides `BACKCHANNEL_CONFIG`, which names the file). */
export const VARIABLES = [
  'PORT',
  'HOST',
  'BACKCHANNEL_MANAGEMENT_ADDRESS',
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
  'BACKCHANNEL_REVOKER',
] as const

/** The variables that are secrets: each may instead be read from the file named by `<VARIABLE>_FILE`. */
export const SECRETS = ['BACKCHANNEL_ADMIN_TOKEN', 'BACKCHANNEL_MASTER_KEY'] as const

/** A setting: a variable of {@link VARIABLES}, or a secret's `_FILE` variant. */
export type Setting = (typeof VARIABLES)[number] | `${(typeof SECRETS)[number]}_FILE`

/** Every setting, in every source (flags, environment, config file). */
export const SETTINGS: readonly Setting[] = [...VARIABLES, ...SECRETS.map((name) => `${name}_FILE` as const)]

/**
 * A setting's key in a config file: camelCase without `BACKCHANNEL_`.
 *
 * @example
 * ```ts
 * fileKey('BACKCHANNEL_ADMIN_TOKEN_FILE') // 'adminTokenFile'
 * fileKey('PORT') // 'port'
 * ```
 */
export function fileKey(setting: string): string {
  return setting
    .replace(/^BACKCHANNEL_/, '')
    .toLowerCase()
    .replace(/_([a-z])/g, (_, letter: string) => letter.toUpperCase())
}

/**
 * A setting's flag of `backchannel serve`: kebab-case without `BACKCHANNEL_`.
 *
 * @example
 * ```ts
 * flagName('BACKCHANNEL_LOG_LEVEL') // '--log-level'
 * ```
 */
export function flagName(setting: string): string {
  return `--${setting
    .replace(/^BACKCHANNEL_/, '')
    .toLowerCase()
    .replaceAll('_', '-')}`
}

/** Values by setting name: from the command line (see {@link loadConfig}) or a config file. */
export type ConfigOverrides = Partial<Record<Setting, string | undefined>>

/** The settings of a config file, by setting name, and the file's path (see `readConfigFile`). */
export interface ConfigFile {
  path: string
  settings: ConfigOverrides
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

/**
 * Reads and checks the configuration: `overrides` (the command line's flags) over `env` over
 * `file`. A secret (see {@link SECRETS}) comes from the first source that sets it or its
 * `_FILE` variant; one source setting both is an error.
 *
 * @example
 * ```ts
 * const config = loadConfig(process.env, { PORT: '8080' }, await readConfigFile())
 * ```
 * @throws {ConfigError} naming the first variable that is wrong and where it was set.
 */
export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  overrides: ConfigOverrides = {},
  file?: ConfigFile,
): Config {
  type Source = [values: ConfigOverrides, origin: (setting: Setting) => string]
  const sources: Source[] = [
    [overrides, (setting) => `set by flag ${flagName(setting)}`],
    [env, () => 'set in the environment'],
  ]
  if (file) sources.push([file.settings, (setting) => `set in ${file.path} as "${fileKey(setting)}"`])
  /** Where each value in use was set, for the error that names it. */
  const origins = new Map<string, string>()
  const present = (value: string | undefined) => (value === undefined || value.trim() === '' ? undefined : value.trim())
  const get = (name: Setting): string | undefined => {
    for (const [values, origin] of sources) {
      const value = present(values[name])
      if (value !== undefined) {
        origins.set(name, origin(name))
        return value
      }
    }
    return undefined
  }
  const secret = (name: (typeof SECRETS)[number]): string | undefined => {
    const fileSetting = `${name}_FILE` as const
    for (const [values, origin] of sources) {
      const value = present(values[name])
      const path = present(values[fileSetting])
      if (value !== undefined && path !== undefined) {
        throw new ConfigError(name, `give either it or ${fileSetting}, not both`, origin(name))
      }
      if (value !== undefined) {
        origins.set(name, origin(name))
        return value
      }
      if (path !== undefined) {
        origins.set(name, `read from ${path} (${fileSetting} ${origin(fileSetting).replace(/^set /, '')})`)
        return readSecretFile(fileSetting, path, origin(fileSetting))
      }
    }
    return undefined
  }

  try {
    // The proxy variables are the process environment's own, read as curl reads them (not flags or the file).
    const proxy = readProxy(env)
    return { ...check(get, secret), ...(proxy === undefined ? {} : { proxy }) }
  } catch (err) {
    // The checks name the variable; only here is it known where its value came from.
    if (!(err instanceof ConfigError) || err.source !== undefined) throw err
    const origin = origins.get(err.variable)
    throw origin === undefined ? err : new ConfigError(err.variable, err.reason, origin)
  }
}

/** A secret's file, without its trailing newline (as `echo` and most secret stores write it). */
function readSecretFile(setting: string, path: string, origin: string): string {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw new ConfigError(
      setting,
      `cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      origin,
    )
  }
  const value = text.replace(/\r?\n$/, '')
  if (value.trim() === '') throw new ConfigError(setting, `${path} is empty`, origin)
  return value
}

/** Every check of every setting, in one place; `get` and `secret` say what was set. */
function check(
  get: (name: Setting) => string | undefined,
  secret: (name: (typeof SECRETS)[number]) => string | undefined,
): Config {
  const portText = get('PORT') ?? '3000'
  const port = Number(portText)
  if (!/^\d+$/.test(portText) || port > 65535) throw new ConfigError('PORT', `${portText} is not a port (0–65535)`)

  const storage = parseStorage(get('BACKCHANNEL_STORAGE') ?? 'fs://./.backchannel')

  const keyText = secret('BACKCHANNEL_MASTER_KEY')
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

  const adminToken = secret('BACKCHANNEL_ADMIN_TOKEN')
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
  const workers = workersText.toLowerCase() === 'auto' ? Math.min(64, usableCores()) : Number(workersText)
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

  const host = get('HOST') ?? '0.0.0.0'
  const managementAddress = parseAddress(get('BACKCHANNEL_MANAGEMENT_ADDRESS'))
  if (managementAddress && managementAddress.port !== 0 && managementAddress.port === port) {
    // Two listeners on one port: the second would fail with EADDRINUSE, or split the paths by address only.
    throw new ConfigError('BACKCHANNEL_MANAGEMENT_ADDRESS', `must be on another port than PORT (${port})`)
  }
  if (managementAddress?.port === 0 && port === 0 && workers > 1) {
    // node:cluster shares one socket per address and port: both listeners would get the same one.
    throw new ConfigError('BACKCHANNEL_MANAGEMENT_ADDRESS', 'with several workers, give it or PORT a port other than 0')
  }

  return {
    port,
    host,
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
    ...(managementAddress ? { managementAddress } : {}),
    revoker: revokerPath(get('BACKCHANNEL_REVOKER')),
  }
}

/**
 * The cores this process may use, for `BACKCHANNEL_WORKERS=auto`: the machine's, or fewer under a
 * container's CPU quota (cgroup v2 `cpu.max`), which Node 20's `availableParallelism()` ignores.
 */
export function usableCores(cpuMax = '/sys/fs/cgroup/cpu.max'): number {
  const cores = availableParallelism()
  let quota: string
  try {
    quota = readFileSync(cpuMax, 'utf8')
  } catch {
    return cores
  }
  const [max, period] = quota.trim().split(/\s+/).map(Number)
  if (!max || !period) return cores // "max 100000": no quota
  return Math.max(1, Math.min(cores, Math.ceil(max / period)))
}

/** Whether this process is one of the workers of `backchannel serve --workers N` (see workers.ts). */
export const isGatewayWorker = () => cluster.isWorker && process.env.BACKCHANNEL_WORKER === '1'
