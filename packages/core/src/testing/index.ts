/**
 * `@backchannel/core/testing`: the conformance suites every session store and replay store
 * runs (needs vitest), and the in-memory reference implementation that passes them.
 * @module
 */
export type { MemoryStoreOptions } from './memory.js'
export { createMemoryStore } from './memory.js'
export type { Factory, ManualClock, Subject } from './suite.js'
export { createManualClock, describeReplayStore, describeSessionStore, ODD_STRINGS } from './suite.js'
