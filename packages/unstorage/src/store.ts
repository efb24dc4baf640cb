/**
 * One store over any {@link StoreBackend}: sessions and revocations, replay claims, the app
 * registry and the audit log. Every failure of the backend surfaces as `ERR_STORE_UNAVAILABLE`,
 * never as "not found".
 * @module
 */
import { guardStore } from '@backchannel/core'
import { FOREVER, keys } from './_internal/keys.js'
import { createAppStore } from './apps.js'
import { createAuditLog } from './audit.js'
import type { StoreBackend } from './backend.js'
import type { GatewayStore, SettingsStore } from './gateway-store.js'
import { createSessionStore, type SessionOptions } from './sessions.js'

/** Options of {@link createStore}. */
export interface StoreOptions extends SessionOptions {
  /** 32 bytes that encrypt application secrets at rest and key the audit log's `sub` hashes. */
  masterKey: Uint8Array
  /** Most audit records kept per application (and overall). Default 10,000. */
  auditMaxEntries?: number
}

/** Everything the gateway keeps, over unstorage. */
export interface BackchannelStore extends GatewayStore {
  /** The backend underneath (raw records, for diagnostics and tests). */
  readonly backend: StoreBackend
}

/**
 * Builds the store over a backend. Presets (`@backchannel/unstorage/redis`, …) call this for you.
 *
 * @example
 * ```ts
 * import { redisStore } from '@backchannel/unstorage/redis'
 * const store = redisStore({ url: 'redis://127.0.0.1:6379', masterKey })
 * await store.register({ app: 'wiki', iss, sessionId, sub, sid })
 * ```
 */
export function createStore(backend: StoreBackend, options: StoreOptions): BackchannelStore {
  if (!(options.masterKey instanceof Uint8Array) || options.masterKey.byteLength !== 32) {
    throw new TypeError('masterKey must be 32 bytes')
  }
  const now = options.now ?? (() => Date.now() / 1000)
  const sessions = createSessionStore(backend, options)
  const audit = createAuditLog(backend, options.masterKey, now, options.auditMaxEntries)
  // Guarded here, once: the logout flow and the admin API both get coded errors from it.
  return guardStore({
    ...sessions,
    claim: (key: string, expiresAt: number) => backend.claim(keys.claim(key), expiresAt, now()),
    release: (key: string) => backend.release(keys.claim(key)),
    ping: () => backend.ping(),
    async close() {
      await audit.close()
      await backend.dispose()
    },
    backend,
    apps: guardStore(createAppStore(backend, options.masterKey, now)),
    audit: { ...guardStore(audit), hashSub: audit.hashSub },
    settings: guardStore(createSettings(backend, now)),
  })
}

function createSettings(backend: StoreBackend, now: () => number): SettingsStore {
  return {
    get: async (name) => (await backend.storage.getItem<{ value: string }>(keys.setting(name)))?.value,
    async setIfAbsent(name, value) {
      if (!(await backend.claim(keys.claim(`setting\n${name}`), now() + FOREVER, now()))) return false
      await backend.storage.setItem(keys.setting(name), { value })
      return true
    },
  }
}
