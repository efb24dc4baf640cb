/**
 * Revoker plugins: `backchannel serve --revoker ./my-revoker.js` (`BACKCHANNEL_REVOKER`) runs the
 * real gateway — its logging, signals, admin API, metrics and store — with sessions ended by your
 * own {@link SessionRevoker}. Applications, the audit log and settings stay in the gateway's store.
 * @module
 */
import { pathToFileURL } from 'node:url'
import type { ReplayStore, SessionRevoker, SessionStore } from '@backchannel/core'
import type { GatewayStore } from '@backchannel/unstorage'
import type { Logger } from 'pino'
import { type Config, ConfigError } from './config.js'

/** What a revoker plugin's factory is given. */
export interface RevokerPluginContext {
  /**
   * The gateway's checked configuration, without the admin token and the master key, which a
   * revoker has no use for. The plugin reads its own settings (a database URL) from the environment.
   */
  config: Omit<Config, 'adminToken' | 'masterKey'>
  /** The gateway's logger (JSON on stdout), its lines marked `plugin: "revoker"`. */
  logger: Logger
  /** The gateway's own store, opened (applications, audit log, settings); the gateway closes it. */
  store: GatewayStore
}

/** What a revoker plugin's factory returns. */
export interface RevokerPlugin {
  /**
   * Ends the sessions of every application on each accepted logout and on `sessions.revoke`. When
   * it is a whole {@link SessionStore} (`register`, `status`, `list`, `end` too), the session API
   * uses it; otherwise those four procedures answer `NOT_IMPLEMENTED` (`ERR_NO_SESSION_REGISTRY`).
   */
  revoker: SessionRevoker | SessionStore
  /** Where logout tokens' `jti`s are claimed. Default: the gateway's store. */
  replay?: ReplayStore
  /** Run once on shutdown, after the last request was answered and before the store is closed. */
  close?(): void | Promise<void>
}

/** The default export of a revoker plugin: builds the {@link RevokerPlugin}, possibly asynchronously. */
export type RevokerPluginFactory = (context: RevokerPluginContext) => RevokerPlugin | Promise<RevokerPlugin>

/**
 * Types a revoker plugin's factory without changing it. Core's `defineRevoker` types the
 * {@link SessionRevoker} object itself; this types the module's default export that builds it
 * (and its optional replay store and `close`) when the gateway starts.
 *
 * @example
 * ```js
 * // revoker.js (examples/custom-revoker) — backchannel serve --revoker ./revoker.js
 * import { defineRevokerPlugin } from '@backchannel/server'
 * import { PGlite } from '@electric-sql/pglite'
 * import { createSqlSessions } from './sql-sessions.js'
 *
 * export default defineRevokerPlugin(async ({ logger }) => {
 *   const db = new PGlite(process.env.PGDATA ?? './pgdata')
 *   const sessions = await createSqlSessions({ db }) // a SessionStore: the session API works too
 *   logger.info('sessions in PostgreSQL (PGlite)')
 *   return { revoker: sessions, close: () => db.close() }
 * })
 * ```
 */
export function defineRevokerPlugin(factory: RevokerPluginFactory): RevokerPluginFactory {
  return factory
}

/**
 * Imports the plugin at `path` (absolute; see `loadConfig`) and runs its factory with the
 * gateway's configuration (its secrets left out), a child of its logger, and its store.
 * @throws {ConfigError} naming `BACKCHANNEL_REVOKER` and the path, when the module cannot be
 * imported, has no default export, or its factory throws or returns something else than a plugin.
 */
export async function loadRevokerPlugin(
  path: string,
  gateway: { config: Config; logger: Logger; store: GatewayStore },
): Promise<RevokerPlugin> {
  const { adminToken: _, masterKey: __, ...config } = gateway.config
  const context: RevokerPluginContext = {
    config,
    logger: gateway.logger.child({ plugin: 'revoker' }),
    store: gateway.store,
  }
  const refuse = (reason: string) =>
    new ConfigError('BACKCHANNEL_REVOKER', `the revoker plugin ${path} (--revoker) ${reason}`)
  let module: { default?: unknown }
  try {
    module = await import(pathToFileURL(path).href)
  } catch (err) {
    throw refuse(`could not be imported: ${(err as Error).message}`)
  }
  const factory = module.default
  if (typeof factory !== 'function') {
    throw refuse('has no default export that is a function: export default defineRevokerPlugin((context) => …)')
  }
  let plugin: unknown
  try {
    plugin = await factory(context)
  } catch (err) {
    throw refuse(`failed to start: ${(err as Error).message}`)
  }
  const problem = shapeProblem(plugin)
  if (problem) throw refuse(`returned ${problem}: its factory must return { revoker, replay?, close? }`)
  return plugin as RevokerPlugin
}

/** What is wrong with a factory's result, if anything. */
function shapeProblem(value: unknown): string | undefined {
  const plugin = value as Partial<Record<keyof RevokerPlugin, Record<string, unknown>>> | null | undefined
  if (typeof plugin !== 'object' || plugin === null) return String(value)
  if (typeof plugin.revoker?.revoke !== 'function') return 'no revoker with a revoke() method'
  if (plugin.replay !== undefined && !['claim', 'release'].every((m) => typeof plugin.replay?.[m] === 'function')) {
    return 'a replay that is not a ReplayStore (claim() and release())'
  }
  if (plugin.close !== undefined && typeof plugin.close !== 'function') return 'a close that is not a function'
  return undefined
}
