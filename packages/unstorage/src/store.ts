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
import { type DumpSummary, type ExportOptions, exportState, type ImportOptions, importState } from './dump.js'
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
  /**
   * Writes the whole live state as a dump (dump.ts), one NDJSON line at a time (without its
   * newline) to `write`, which may return a promise to wait for (a full stdout).
   *
   * @example
   * ```ts
   * const lines: string[] = []
   * await store.exportState((line) => lines.push(line), { gateway: '0.1.0' })
   * ```
   */
  exportState(write: (line: string) => unknown, options?: ExportOptions): Promise<DumpSummary>
  /**
   * Imports a dump. `read` is called twice: the first pass checks every line, the second writes,
   * so a bad dump leaves the store untouched. Refuses a dump made under another master key
   * (`ERR_DUMP_KEY_MISMATCH`), a bad line (`ERR_DUMP_INVALID`, naming it) and, unless `merge`, a
   * store that already holds applications (`ERR_IMPORT_TARGET_NOT_EMPTY`).
   *
   * @example
   * ```ts
   * await target.importState(async function* () { yield* lines })
   * ```
   */
  importState(read: () => AsyncIterable<string>, options?: ImportOptions): Promise<DumpSummary>
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
    exportState: (write: (line: string) => unknown, opts?: ExportOptions) =>
      exportState(backend, options.masterKey, now(), write, opts),
    importState: (read: () => AsyncIterable<string>, opts?: ImportOptions) =>
      importState(backend, options.masterKey, now, read, opts),
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
