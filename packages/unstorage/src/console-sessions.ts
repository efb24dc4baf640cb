/**
 * The sign-in sessions of the admin console (`/admin`), kept in the store so that every worker
 * and instance sees them and signing out ends one everywhere. Only a hash of the session id is
 * stored: a copy of the store opens no console.
 * @module
 */
import { keys } from './_internal/keys.js'
import type { StoreBackend } from './backend.js'
import type { ConsoleSession, ConsoleSessionStore } from './gateway-store.js'

/** The console's session store over a backend. */
export function createConsoleSessionStore(backend: StoreBackend, now: () => number): ConsoleSessionStore {
  return {
    async create(idHash, session) {
      await backend.setMany([{ key: keys.consoleSession(idHash), value: session, expiresAt: session.expiresAt }], now())
    },
    async get(idHash) {
      const [value] = (await backend.getMany([keys.consoleSession(idHash)])) as (ConsoleSession | null)[]
      // The expiry is checked here too: some drivers (memory, MongoDB) keep records past their TTL.
      return value && value.expiresAt > now() ? value : undefined
    },
    async delete(idHash) {
      await backend.storage.removeItem(keys.consoleSession(idHash))
    },
  }
}
