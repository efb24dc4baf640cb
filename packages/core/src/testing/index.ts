/**
 * `@backchannel/core/testing`: the conformance cases every session store, replay store and relay
 * outbox runs, in a runner-neutral form (named async functions; no test runner, no Node
 * built-in imported), and the in-memory reference store that passes them. Run them with
 * `@backchannel/core/testing/vitest` or `@backchannel/core/testing/node` (`node:test`), or any
 * runner: each case's `run()` resolves, or rejects with `ERR_CONFORMANCE` (or `ERR_CASE_SKIPPED`).
 * @module
 */
export { ConformanceError } from './_internal/check.js'
export type { ConformanceCase, Factory, ManualClock, Subject } from './cases.js'
export { CaseSkipped, createManualClock, isCaseSkipped, ODD_STRINGS, subjectOf } from './cases.js'
export type { MemoryStoreOptions } from './memory.js'
export { createMemoryStore } from './memory.js'
export { createMemoryRelayStore } from './memory-outbox.js'
export { relayOutboxCases, relayTarget } from './outbox-cases.js'
export { replayStoreCases } from './replay-cases.js'
export { sessionStoreCases } from './session-cases.js'
