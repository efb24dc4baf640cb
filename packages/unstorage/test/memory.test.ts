import { describeReplayStore, describeSessionStore } from '@backchannel/core/testing/vitest'
import { memoryStore } from '../src/presets/memory.js'
import { describeStoreExtras } from './store-suite.js'

const factory = (clock: { now: () => number }) => {
  const store = memoryStore({ now: clock.now })
  return { store, cleanup: () => store.close() }
}
describeSessionStore('memory preset', factory)
describeReplayStore('memory preset', factory)
describeStoreExtras('memory preset', factory)
