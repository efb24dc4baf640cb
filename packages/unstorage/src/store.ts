/**
 * One store over any {@link StoreBackend}, or any unstorage `Storage`: sessions and revocations,
 * replay claims, the app registry, the Shared Signals streams, the audit log and the relay outbox. Every failure of the backend surfaces as `ERR_STORE_UNAVAILABLE`,
 * never as "not found".
 * @module
 */
import { errors, guardStore } from '@backchannel/core'
import type { Storage } from 'unstorage'
import { keys } from './_internal/keys.js'
import { createStorageBackend } from './_internal/storage-backend.js'
import { createAppStore } from './apps.js'
import { createAuditLog } from './audit.js'
import type { StoreBackend } from './backend.js'
import { createConsoleSessionStore } from './console-sessions.js'
import {
  checkSecretsOpen,
  type DumpSummary,
  type ExportOptions,
  exportState,
  type ImportOptions,
  importState,
} from './dump.js'
import type { GatewayStore, SettingsStore } from './gateway-store.js'
import { createOutbox, outboxRetention } from './outbox.js'
import { createSessionStore, type SessionOptions } from './sessions.js'
import { createSigningKeyStore } from './signing-keys.js'
import { createStreamStore } from './streams.js'

/** Options of {@link createStore}. */
export interface StoreOptions extends SessionOptions {
  /** 32 bytes that encrypt application secrets and signing keys at rest and key the audit log's `sub` hashes. */
  masterKey: Uint8Array
  /** Most audit records kept per application (and overall). Default 10,000. */
  auditMaxEntries?: number
}

/** Options of {@link createStore} over any unstorage `Storage`. */
export interface StorageStoreOptions extends StoreOptions {
  /**
   * Where everything is kept: a `Storage` over any unstorage driver. Its claims are atomic within
   * this process only (among the stores built over this `Storage` object); to share a store
   * between processes, use a preset. Closing the store leaves this `Storage` open.
   */
  storage: Storage
}

/** Everything the gateway keeps, over unstorage. */
export interface BackchannelStore extends GatewayStore {
  /** The backend underneath (raw records, for diagnostics and tests). */
  readonly backend: StoreBackend
  /**
   * Writes the whole live state as a dump (dump.ts), one NDJSON line at a time (without its
   * newline) to `write`, which may return a promise to wait for (a full stdout). Refuses, writing
   * nothing, when the master key does not open the store's secrets (`ERR_DUMP_KEY_MISMATCH`).
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
   * store that holds anything (`ERR_IMPORT_TARGET_NOT_EMPTY`). A store failing after writing began
   * is `ERR_IMPORT_INCOMPLETE`.
   *
   * @example
   * ```ts
   * await target.importState(async function* () { yield* lines })
   * ```
   */
  importState(read: () => AsyncIterable<string>, options?: ImportOptions): Promise<DumpSummary>
}

/**
 * Builds the store over any unstorage `Storage` (claims atomic within this process only), or over
 * a {@link StoreBackend}: presets (`@backchannel/unstorage/redis`, …) call that form for you.
 *
 * @example
 * ```ts
 * import { randomBytes } from 'node:crypto'
 * import { createStorage } from 'unstorage'
 * import fsLiteDriver from 'unstorage/drivers/fs-lite'
 * import { createStore } from '@backchannel/unstorage'
 * const storage = createStorage({ driver: fsLiteDriver({ base: './.sessions' }) })
 * const store = createStore({ storage, masterKey: randomBytes(32) })
 * await store.register({ app: 'wiki', iss: 'https://id.example.com', sessionId: 's1', sub: 'alice', sid: 'x' })
 * ```
 */
export function createStore(options: StorageStoreOptions): BackchannelStore
export function createStore(backend: StoreBackend, options: StoreOptions): BackchannelStore
export function createStore(first: StoreBackend | StorageStoreOptions, second?: StoreOptions): BackchannelStore {
  const options = second ?? (first as StorageStoreOptions)
  if (!(options.masterKey instanceof Uint8Array) || options.masterKey.byteLength !== 32) {
    throw new TypeError('masterKey must be 32 bytes')
  }
  const { storage } = first as StorageStoreOptions
  if (!second && typeof storage?.getItem !== 'function') throw new TypeError('storage must be an unstorage Storage')
  const now = options.now ?? (() => Date.now() / 1000)
  const backend = second ? (first as StoreBackend) : createStorageBackend(storage, { now })
  const sessions = createSessionStore(backend, options)
  const audit = createAuditLog(backend, options.masterKey, now, options.auditMaxEntries)
  const apps = createAppStore(backend, options.masterKey, now)
  const streams = createStreamStore(backend, options.masterKey, now)
  const signingKeys = createSigningKeyStore(backend, options.masterKey, now)
  // Guarded here, once: the logout flow and the admin API both get coded errors from it.
  return guardStore({
    ...sessions,
    // Core's RelayOutboxRevoker: revocations write their deliveries (sessions.ts), `outbox` below.
    relayOutbox: true,
    claim: (key: string, expiresAt: number) => backend.claim(keys.claim(key), expiresAt, now()),
    release: (key: string) => backend.release(keys.claim(key)),
    ping: () => backend.ping(),
    async close() {
      await audit.close()
      await backend.dispose()
    },
    backend,
    async exportState(write: (line: string) => unknown, opts?: ExportOptions) {
      await checkSecretsOpen([() => signingKeys.list(), () => apps.list(), () => streams.list()])
      return exportState(backend, options.masterKey, now(), write, opts)
    },
    importState: (read: () => AsyncIterable<string>, opts?: ImportOptions) =>
      importState(backend, options.masterKey, now, read, opts),
    apps: guardStore(apps),
    streams: guardStore(streams),
    audit: { ...guardStore(audit), hashSub: audit.hashSub },
    settings: guardStore(createSettings(backend, now)),
    keys: guardStore(signingKeys),
    outbox: guardStore(createOutbox(backend, now, outboxRetention(options.relayRetention))),
    consoleSessions: guardStore(createConsoleSessionStore(backend, now)),
  })
}

/** Seconds a process may take to write a setting it claimed; others wait for it that long. */
const SETTING_WRITE_SECONDS = 30

function createSettings(backend: StoreBackend, now: () => number): SettingsStore {
  const get = async (name: string) => (await backend.storage.getItem<{ value: string }>(keys.setting(name)))?.value
  return {
    get,
    async setIfAbsent(name, value) {
      // The record decides; the claim only keeps two writers apart. A process that loses waits
      // for the winner's value, so that it never reads the setting as absent; a winner that
      // stopped before writing leaves a claim that ends, and the next caller writes instead.
      const deadline = Date.now() + (SETTING_WRITE_SECONDS + 5) * 1000
      for (let wait = 10; ; wait = Math.min(2 * wait, 500)) {
        if ((await get(name)) !== undefined) return false
        if (await backend.claim(keys.claim(`setting\n${name}`), now() + SETTING_WRITE_SECONDS, now())) {
          // A winner whose claim ended before this one began may have written it meanwhile.
          if ((await get(name)) !== undefined) return false
          await backend.storage.setItem(keys.setting(name), { value })
          return true
        }
        if (Date.now() > deadline) {
          throw new errors.StoreUnavailable(`the setting ${name} was claimed by another process that never wrote it`)
        }
        await new Promise((resolve) => setTimeout(resolve, wait))
      }
    },
  }
}
