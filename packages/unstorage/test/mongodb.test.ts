/**
 * The MongoDB preset over the wire protocol: against CongoDB by default (started by
 * test/setup/services.ts), against a real MongoDB when MONGODB_URL is set.
 */
import { randomBytes } from 'node:crypto'
import { describeReplayStore, describeSessionStore } from '@backchannel/core/testing/vitest'
import { describe, expect, inject, it } from 'vitest'
import { mongodbStore } from '../src/presets/mongodb.js'
import { itTakesOnceAcrossInstances } from './outbox-suite.js'
import { describeStoreExtras, itClaimsOnceAcrossInstances, itMakesOneSigningKeyAcrossInstances } from './store-suite.js'

const url = inject('mongoUrl')
const real = inject('mongoKind') === 'mongodb'
const masterKey = randomBytes(32)
let n = 0
// CongoDB does not implement the streaming server monitor (awaitable hello with moreToCome):
// when the driver tries it, the pool is cleared and operations in flight fail. Poll instead.
const client = real ? {} : { serverMonitoringMode: 'poll' as const }

// Each test gets its own database, so tests never see each other's data.
const factory = async (clock: { now: () => number }) => {
  const store = await mongodbStore({ url, masterKey, client, now: clock.now, database: `t${Date.now()}_${++n}` })
  return { store, cleanup: () => store.close() }
}

describe(`MongoDB preset (${inject('mongoKind')})`, () => {
  describeSessionStore('mongodb preset', factory)
  describeReplayStore('mongodb preset', factory)
  // CongoDB scans a collection on every write (no index is used): there the big user has 2,000
  // sessions; a real MongoDB (MONGODB_URL) takes the full 10,000.
  describeStoreExtras('mongodb preset', factory, real ? {} : { bigUser: 2_000 })

  itClaimsOnceAcrossInstances((database) => mongodbStore({ url, masterKey, client, database }))
  itMakesOneSigningKeyAcrossInstances((database) => mongodbStore({ url, masterKey, client, database }))
  itTakesOnceAcrossInstances((database) => mongodbStore({ url, masterKey, client, database }))

  it('answers ERR_STORE_UNAVAILABLE when the server cannot be reached', async () => {
    const store = await mongodbStore({ url, masterKey, client, database: `down${Date.now()}` })
    await store.close() // a closed client behaves like a lost server to every call
    await expect(store.status('a', 's')).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' })
  })
})
