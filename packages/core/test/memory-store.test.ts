/** The in-memory reference implementation passes the conformance suites it defines. */
import { createMemoryStore, describeReplayStore, describeSessionStore } from '../src/testing/vitest.js'

describeSessionStore('memory reference', (clock) => createMemoryStore({ now: clock.now }))
describeReplayStore('memory reference', (clock) => createMemoryStore({ now: clock.now }))
