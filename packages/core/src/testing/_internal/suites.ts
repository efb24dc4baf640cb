/**
 * The three named suites, over whichever runner's `describeCases` an adapter (`./vitest`,
 * `./node`) provides: each adapter is only how one case becomes one test.
 * @module
 */
import type { RelayOutboxRevoker } from '../../relay-outbox.js'
import type { ReplayStore } from '../../replay.js'
import type { SessionStore } from '../../session.js'
import type { ConformanceCase, Factory } from '../cases.js'
import { relayOutboxCases } from '../outbox-cases.js'
import { replayStoreCases } from '../replay-cases.js'
import { sessionStoreCases } from '../session-cases.js'

/** The suites an adapter exports. */
export interface Suites {
  /**
   * Runs the session conformance suite against the stores `factory` builds, one per test.
   *
   * @example
   * ```ts
   * describeSessionStore('my sql store', async (clock) => {
   *   const store = await createSqlStore({ now: clock.now })
   *   return { store, cleanup: () => store.close() }
   * })
   * ```
   */
  describeSessionStore(name: string, factory: Factory<SessionStore>): void
  /**
   * Runs the replay conformance suite against the stores `factory` builds.
   *
   * @example
   * ```ts
   * describeReplayStore('redis', (clock) => redisReplayStore({ url, now: clock.now }))
   * ```
   */
  describeReplayStore(name: string, factory: Factory<ReplayStore>): void
  /**
   * Runs the relay outbox conformance suite against the stores `factory` builds; give the subject
   * a `failWrites` to include the failed-write case.
   *
   * @example
   * ```ts
   * describeRelayOutbox('sql', async (clock) => ({ store: await createSqlStore({ now: clock.now }) }))
   * ```
   */
  describeRelayOutbox(name: string, factory: Factory<RelayOutboxRevoker>): void
}

/** The suites over one runner's `describeCases`. */
export function suitesOver(describeCases: (title: string, cases: readonly ConformanceCase[]) => void): Suites {
  return {
    describeSessionStore: (name, factory) =>
      describeCases(`SessionStore conformance: ${name}`, sessionStoreCases(factory)),
    describeReplayStore: (name, factory) =>
      describeCases(`ReplayStore conformance: ${name}`, replayStoreCases(factory)),
    describeRelayOutbox: (name, factory) =>
      describeCases(`relay outbox conformance: ${name}`, relayOutboxCases(factory)),
  }
}
