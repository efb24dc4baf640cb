/**
 * The stream registry of the Shared Signals receiver: what the push route looks up by name on
 * every request. A stream holds no secret: its authorization header is kept only as a hash.
 * @module
 */
import { FOREVER, keys } from './_internal/keys.js'
import type { StoreBackend } from './backend.js'
import type { StreamRecord, StreamStore } from './gateway-store.js'

const NAMES = 'streams'

/** The stream registry over a backend. */
export function createStreamStore(backend: StoreBackend, now: () => number): StreamStore {
  const { storage } = backend
  const nameClaim = (name: string) => `stream-name:${name}`
  const store: StreamStore = {
    async get(name) {
      return (await storage.getItem<StreamRecord>(keys.stream(name))) ?? undefined
    },
    async list() {
      const names = (await backend.members(NAMES)).sort()
      const items = await storage.getItems(names.map((n) => keys.stream(n)))
      return items.flatMap(({ value }) => (value ? [value as StreamRecord] : []))
    },
    async create(stream) {
      if (!(await backend.claim(nameClaim(stream.name), now() + FOREVER, now()))) return false
      await storage.setItem(keys.stream(stream.name), stream)
      await backend.addMember(NAMES, stream.name, now() + FOREVER)
      return true
    },
    async delete(name) {
      if (!(await store.get(name))) return false
      await storage.removeItem(keys.stream(name))
      await backend.removeMembers(NAMES, [name])
      await backend.release(nameClaim(name))
      return true
    },
  }
  return store
}
