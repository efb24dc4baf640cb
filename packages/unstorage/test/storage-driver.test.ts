/**
 * `createStore({ storage })` over unstorage's own drivers: `memory`, and `fs-lite` in a temp
 * folder (keys become file paths there). Claims are atomic within one process: among the stores
 * built over one `Storage` object.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  createManualClock,
  describeReplayStore,
  describeSessionStore,
  ODD_STRINGS,
} from '@backchannel/core/testing/vitest'
import { createStorage, type Storage } from 'unstorage'
import fsLiteDriver from 'unstorage/drivers/fs-lite'
import memoryDriver from 'unstorage/drivers/memory'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createStorageBackend } from '../src/_internal/storage-backend.js'
import { createStore } from '../src/index.js'
import { describeStoreExtras, itClaimsOnceAcrossInstances } from './store-suite.js'

const masterKey = randomBytes(32)
const tempFolder = () => mkdtemp(join(tmpdir(), 'backchannel-fs-lite-'))

interface DriverCase {
  name: string
  open: () => Promise<{ storage: Storage; remove: () => Promise<void> }>
  /** Sessions of the big user: fs-lite makes a file per session and per sid index. */
  bigUser?: number
}

const drivers: DriverCase[] = [
  {
    name: 'memory',
    open: async () => ({ storage: createStorage({ driver: memoryDriver() }), remove: async () => {} }),
  },
  {
    name: 'fs-lite',
    bigUser: 2_000,
    async open() {
      const base = await tempFolder()
      return {
        storage: createStorage({ driver: fsLiteDriver({ base }) }),
        remove: () => rm(base, { recursive: true, force: true }),
      }
    },
  },
]

for (const driver of drivers) {
  const factory = async (clock: { now: () => number }) => {
    const { storage, remove } = await driver.open()
    const store = createStore({ storage, masterKey, now: clock.now })
    return {
      store,
      cleanup: async () => {
        await store.close()
        await remove()
      },
    }
  }
  describeSessionStore(`unstorage ${driver.name} driver`, factory)
  describeReplayStore(`unstorage ${driver.name} driver`, factory)
  describeStoreExtras(`unstorage ${driver.name} driver`, factory, { bigUser: driver.bigUser })

  describe(`createStore({ storage }) over the unstorage ${driver.name} driver`, () => {
    let storage: Storage
    let remove: () => Promise<void>
    beforeEach(async () => {
      ;({ storage, remove } = await driver.open())
    })
    afterEach(() => remove())

    // Four store objects over one Storage in this process share its in-process locks.
    itClaimsOnceAcrossInstances(() => createStore({ storage, masterKey }))

    it('lets exactly 1 of 200 concurrent claims of one key win on one store, and the key be claimed again once it lapsed', async () => {
      const clock = createManualClock()
      const store = createStore({ storage, masterKey, now: clock.now })
      const until = clock.now() + 60
      const results = await Promise.all(Array.from({ length: 200 }, () => store.claim('jti', until)))
      expect(results.filter(Boolean)).toHaveLength(1)
      clock.advance(61)
      const again = await Promise.all(Array.from({ length: 200 }, () => store.claim('jti', clock.now() + 60)))
      expect(again.filter(Boolean)).toHaveLength(1)
      await store.close()
    })

    it('leaves the Storage open when the store is closed, for another store to read', async () => {
      const first = createStore({ storage, masterKey })
      await first.register({ app: 'a', iss: 'i', sessionId: 's', sub: 'u' })
      await first.close()
      const second = createStore({ storage, masterKey })
      expect(await second.status('a', 's')).toEqual({ state: 'active' })
      await second.close()
    })

    it('sweeps expired records, claims and index entries, and keeps the live ones', async () => {
      const clock = createManualClock()
      const backend = createStorageBackend(storage, { now: clock.now, sweepInterval: 0.02 })
      const t = clock.now()
      await backend.setMany(
        [
          { key: 'rec:short', value: { n: 1 }, expiresAt: t + 10 },
          { key: 'rec:long', value: { n: 2 }, expiresAt: t + 1000 },
        ],
        t,
      )
      await backend.claim('c:short', t + 10, t)
      await backend.addMember('set:short', 'm', t + 10)
      await backend.addMember('set:long', 'm', t + 1000)
      expect((await storage.getKeys()).length).toBe(5)
      clock.advance(100)
      await expect.poll(async () => (await storage.getKeys()).sort()).toEqual(['_set:set:long', 'rec:long'])
      expect(await backend.getMany(['rec:long'])).toEqual([{ n: 2 }])
      expect(await backend.claim('c:short', clock.now() + 10, clock.now())).toBe(true)
      await backend.dispose()
    })
  })
}

describe('createStore({ storage }) over fs-lite: keys as file names', () => {
  let outer: string
  beforeEach(async () => {
    outer = await tempFolder()
  })
  afterEach(() => rm(outer, { recursive: true, force: true }))

  it('keeps sessions with odd ids and issuers in files of their own inside its folder, readable by a new Storage', async () => {
    const base = join(outer, 'store')
    const first = createStore({ storage: createStorage({ driver: fsLiteDriver({ base }) }), masterKey })
    for (const odd of ODD_STRINGS) {
      await first.register({ app: odd, iss: `https://id.example.com/${odd}`, sessionId: odd, sub: odd, sid: odd })
    }
    await first.close()
    // A record and two index sets per session, none written over another or outside the folder.
    expect(await readdir(outer)).toEqual(['store'])
    const files = (await readdir(base, { recursive: true, withFileTypes: true })).filter((e) => e.isFile())
    expect(files.length).toBe(ODD_STRINGS.length * 3)

    const second = createStore({ storage: createStorage({ driver: fsLiteDriver({ base }) }), masterKey })
    for (const odd of ODD_STRINGS) {
      expect(await second.status(odd, odd)).toEqual({ state: 'active' })
      const iss = `https://id.example.com/${odd}`
      expect(await second.revoke({ app: odd, iss, sub: odd, scope: 'session', issuedAt: Date.now() / 1000 })).toEqual({
        revoked: 1,
      })
    }
    await second.close()
  })
})

it('refuses options without a Storage, or without a 32-byte master key', () => {
  expect(() => createStore({ masterKey } as never)).toThrow('storage must be an unstorage Storage')
  const storage = createStorage({ driver: memoryDriver() })
  expect(() => createStore({ storage, masterKey: randomBytes(16) })).toThrow('masterKey must be 32 bytes')
})
