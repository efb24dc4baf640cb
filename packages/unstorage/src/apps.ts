/**
 * The application registry: what the logout flow looks up by name on every request, kept with
 * its secrets sealed (AES-256-GCM under the master key) and its API key only as a hash.
 * @module
 */
import { timingSafeEqual } from 'node:crypto'
import type { HmacSecret } from '@backchannel/core'
import { FOREVER, keys } from './_internal/keys.js'
import { open, seal } from './_internal/seal.js'
import type { StoreBackend } from './backend.js'
import type { AppRecord, AppStore } from './gateway-store.js'

type SealedSecret = { sealed: string; notAfter?: number }
type StoredApp = Omit<AppRecord, 'secrets'> & { secrets?: SealedSecret[] }

const NAMES = 'apps'

/** The app registry over a backend; secrets sealed under `masterKey`. */
export function createAppStore(backend: StoreBackend, masterKey: Uint8Array, now: () => number): AppStore {
  const { storage } = backend
  const nameClaim = (name: string) => `app-name:${name}`
  // Stores written before the claim's key lost its newline hold this one until the app is deleted.
  const legacyNameClaim = (name: string) => `app-name\n${name}`

  // A relay's secret is sealed with its app and URL as context: it cannot be moved to another relay.
  const relayContext = (name: string, url: string) => `${name}\nrelay\n${url}`
  const mapRelaySecrets = (
    name: string,
    secrets: Readonly<Record<string, string>>,
    change: (v: string, context: string) => string,
  ) => Object.fromEntries(Object.entries(secrets).map(([url, value]) => [url, change(value, relayContext(name, url))]))

  const toStored = (app: AppRecord): StoredApp => {
    const stored: StoredApp =
      app.kind === 'hmac'
        ? {
            ...app,
            secrets: app.secrets.map(({ key, notAfter }) => ({
              sealed: seal(masterKey, key, app.name),
              ...(notAfter === undefined ? {} : { notAfter }),
            })),
          }
        : app
    if (!app.relaySecrets) return stored
    const sealed = (value: string, context: string) => seal(masterKey, Buffer.from(value), context)
    return { ...stored, relaySecrets: mapRelaySecrets(app.name, app.relaySecrets, sealed) }
  }
  const fromStored = (stored: StoredApp): AppRecord => {
    const app = (
      stored.kind === 'hmac'
        ? {
            ...stored,
            secrets: (stored.secrets ?? []).map(
              ({ sealed, notAfter }): HmacSecret => ({
                key: open(masterKey, sealed, stored.name),
                ...(notAfter === undefined ? {} : { notAfter }),
              }),
            ),
          }
        : stored
    ) as AppRecord
    if (!stored.relaySecrets) return app
    const opened = (value: string, context: string) => Buffer.from(open(masterKey, value, context)).toString()
    return { ...app, relaySecrets: mapRelaySecrets(stored.name, stored.relaySecrets, opened) }
  }

  async function write(app: AppRecord, previous?: AppRecord) {
    await storage.setItem(keys.appRecord(app.name), toStored(app))
    if (previous && previous.apiKeyHash !== app.apiKeyHash) await storage.removeItem(keys.apiKey(previous.apiKeyHash))
    await storage.setItem(keys.apiKey(app.apiKeyHash), { name: app.name })
  }

  const store: AppStore = {
    async get(name) {
      const stored = await storage.getItem<StoredApp>(keys.appRecord(name))
      return stored ? fromStored(stored) : undefined
    },
    async list() {
      const names = (await backend.members(NAMES)).sort()
      const items = await storage.getItems(names.map((n) => keys.appRecord(n)))
      return items.flatMap(({ value }) => (value ? [fromStored(value as StoredApp)] : []))
    },
    async create(app) {
      if (!(await backend.claim(nameClaim(app.name), now() + FOREVER, now()))) return false
      // A name taken under the legacy claim has its record: the claim just won is not the name.
      if (await storage.hasItem(keys.appRecord(app.name))) {
        await backend.release(nameClaim(app.name))
        return false
      }
      await write(app)
      await backend.addMember(NAMES, app.name, now() + FOREVER)
      return true
    },
    async update(app) {
      await write(app, await store.get(app.name))
    },
    async delete(name) {
      const existing = await store.get(name)
      if (!existing) return false
      await backend.removePrefix(keys.app(name))
      await storage.removeItem(keys.apiKey(existing.apiKeyHash))
      await storage.removeItem(keys.appRecord(name))
      await backend.removeMembers(NAMES, [name])
      await backend.release(nameClaim(name))
      await backend.release(legacyNameClaim(name))
      return true
    },
    async findByApiKeyHash(apiKeyHash) {
      const name = (await storage.getItem<{ name: string }>(keys.apiKey(apiKeyHash)))?.name
      if (name === undefined) return undefined
      // The index can outlive its key (two rotations at once each remove only the key they read,
      // a delete racing a rotation): the record is what decides, so a replaced key never works.
      const stored = await storage.getItem<StoredApp>(keys.appRecord(name))
      return stored && sameHex(stored.apiKeyHash, apiKeyHash) ? name : undefined
    },
  }
  return store
}

/** Whether two hex digests are equal, in constant time (API keys are compared so everywhere). */
function sameHex(a: string, b: string): boolean {
  const [x, y] = [Buffer.from(a, 'hex'), Buffer.from(b, 'hex')]
  return x.length === y.length && timingSafeEqual(x, y)
}
