/**
 * `@backchannel/unstorage/memory`: everything in this process's memory. For tests, development
 * and single-instance gateways that may forget sessions on restart.
 *
 * @example
 * ```ts
 * import { memoryStore } from '@backchannel/unstorage/memory'
 * const store = memoryStore()
 * ```
 * @module
 */
import { randomBytes } from 'node:crypto'
import { createLocalBackend } from '../_internal/local-backend.js'
import { createLocalState } from '../_internal/local-state.js'
import { type BackchannelStore, createStore, type StoreOptions } from '../store.js'

/** Options of {@link memoryStore}; `masterKey` defaults to a random key (nothing outlives the process). */
export type MemoryStoreOptions = Partial<StoreOptions>

/** A store held in memory. */
export function memoryStore(options: MemoryStoreOptions = {}): BackchannelStore {
  const now = options.now ?? (() => Date.now() / 1000)
  const backend = createLocalBackend(createLocalState(now), { now })
  return createStore(backend, { ...options, now, masterKey: options.masterKey ?? randomBytes(32) })
}
