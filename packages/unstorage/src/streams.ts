/**
 * The stream registry of the Shared Signals receiver: what the push route looks up by name on
 * every request. A stream's authorization header is kept only as a hash; a poll stream's token is
 * sealed under the master key. What its events say (status, last event, last verification) lives
 * in records of its own, each written whole, so that an event never rewrites the configuration.
 * @module
 */
import type { StreamEvent } from '@backchannel/core'
import { FOREVER, keys } from './_internal/keys.js'
import { open, seal } from './_internal/seal.js'
import type { StoreBackend } from './backend.js'
import type { StreamRecord, StreamState, StreamStore, StreamVerification } from './gateway-store.js'

const NAMES = 'streams'

type StoredStream = Omit<StreamRecord, 'pollToken'> & { pollToken?: string }
/** `issuedAt`: the `iat` of the SET that stated it, so that an older redelivery does not win. */
type StoredStatus = Pick<StreamState, 'status' | 'statusReason'> & { issuedAt?: number }

/** The stream registry over a backend; poll tokens sealed under `masterKey`. */
export function createStreamStore(backend: StoreBackend, masterKey: Uint8Array, now: () => number): StreamStore {
  const { storage } = backend
  const nameClaim = (name: string) => `stream-name:${name}`
  // Sealed with the stream's name as context: it cannot be moved to another stream.
  const context = (name: string) => `stream\n${name}\npoll`
  const toStored = (stream: StreamRecord): StoredStream =>
    stream.pollToken === undefined
      ? stream
      : { ...stream, pollToken: seal(masterKey, Buffer.from(stream.pollToken), context(stream.name)) }
  const fromStored = (stored: StoredStream): StreamRecord =>
    stored.pollToken === undefined
      ? stored
      : { ...stored, pollToken: Buffer.from(open(masterKey, stored.pollToken, context(stored.name))).toString() }

  const stateKeys = (name: string) => [keys.streamStatus(name), keys.streamSeen(name), keys.streamVerification(name)]
  // An event racing a delete must not leave state that a stream created later under the name inherits.
  const exists = (name: string) => storage.hasItem(keys.stream(name))

  const store: StreamStore = {
    async get(name) {
      const stored = await storage.getItem<StoredStream>(keys.stream(name))
      return stored ? fromStored(stored) : undefined
    },
    async list() {
      const names = (await backend.members(NAMES)).sort()
      const items = await storage.getItems(names.map((n) => keys.stream(n)))
      return items.flatMap(({ value }) => (value ? [fromStored(value as StoredStream)] : []))
    },
    async create(stream) {
      const { name } = stream
      if (!(await backend.claim(nameClaim(name), now() + FOREVER, now()))) return false
      try {
        // What an event racing the delete of an earlier stream of this name may have left.
        for (const key of stateKeys(name)) await storage.removeItem(key)
        await storage.setItem(keys.stream(name), toStored(stream))
        await backend.addMember(NAMES, name, now() + FOREVER)
      } catch (err) {
        // Else the name stays taken with no stream behind it.
        await backend.release(nameClaim(name)).catch(() => {})
        throw err
      }
      return true
    },
    async update(stream) {
      await storage.setItem(keys.stream(stream.name), toStored(stream))
    },
    async delete(name) {
      const found = await exists(name)
      await storage.removeItem(keys.stream(name))
      for (const key of stateKeys(name)) await storage.removeItem(key)
      await backend.removeMembers(NAMES, [name])
      // Released even with no record: a creation that stopped midway leaves no stuck name.
      await backend.release(nameClaim(name))
      return found
    },
    async state(name) {
      const [status, seen, verification] = await Promise.all([
        storage.getItem<StoredStatus>(keys.streamStatus(name)),
        storage.getItem<{ at: number }>(keys.streamSeen(name)),
        storage.getItem<StreamVerification>(keys.streamVerification(name)),
      ])
      return {
        status: status?.status ?? 'enabled',
        ...(status?.statusReason === undefined ? {} : { statusReason: status.statusReason }),
        ...(seen ? { lastEventAt: seen.at } : {}),
        ...(verification ? { lastVerification: verification } : {}),
      }
    },
    async requestVerification(name, verification) {
      await storage.setItem(keys.streamVerification(name), verification)
    },
    async touch(name, at) {
      if (await exists(name)) await storage.setItem(keys.streamSeen(name), { at })
    },
    async recordEvent(name, event: StreamEvent, at) {
      if (!(await exists(name))) return false
      if (event.event === 'stream-updated') {
        const { issuedAt } = event
        const stored = await storage.getItem<StoredStatus>(keys.streamStatus(name))
        if (stored?.issuedAt !== undefined && issuedAt !== undefined && issuedAt < stored.issuedAt) return false
        const status: StoredStatus = {
          status: event.status,
          ...(event.reason ? { statusReason: event.reason } : {}),
          ...(issuedAt === undefined ? {} : { issuedAt }),
        }
        await storage.setItem(keys.streamStatus(name), status)
        return true
      }
      const pending = await storage.getItem<StreamVerification>(keys.streamVerification(name))
      if (!pending || event.state === undefined || pending.state !== event.state) return false
      // A second delivery of the same event keeps the first arrival's time.
      if (pending.verifiedAt === undefined) {
        await storage.setItem(keys.streamVerification(name), { ...pending, verifiedAt: at })
      }
      return true
    },
    async lease(name, term, expiresAt) {
      return backend.claim(keys.streamLease(name, term), expiresAt, now())
    },
    async releaseLease(name, term) {
      await backend.release(keys.streamLease(name, term))
    },
  }
  return store
}
