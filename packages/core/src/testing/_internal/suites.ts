/**
 * What the runner adapters (`./vitest`, `./node`) export, over one runner's `describe` and `it`:
 * each adapter is only that binding.
 * @module
 */
import type { RelayOutboxRevoker } from '../../relay-outbox.js'
import type { ReplayStore } from '../../replay.js'
import type { SessionStore } from '../../session.js'
import { type ConformanceCase, type Factory, isCaseSkipped } from '../cases.js'
import { relayOutboxCases } from '../outbox-cases.js'
import { replayStoreCases } from '../replay-cases.js'
import { sessionStoreCases } from '../session-cases.js'

/** The suites an adapter exports. */
export interface Suites {
  /**
   * Runs `cases` as one suite named `title`, one test per case; a case the store cannot run (it
   * lacks an optional method) is skipped, saying why.
   *
   * @example
   * ```ts
   * describeCases('my store', sessionStoreCases((clock) => createMyStore({ now: clock.now })))
   * ```
   */
  describeCases(title: string, cases: readonly ConformanceCase[]): void
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

/** One runner's binding: a suite, and a test whose body may end it as skipped. */
export interface Runner {
  describe(title: string, body: () => void): void
  test(name: string, body: (skip: (why: string) => void) => Promise<void>): void
}

/** The suites over one runner. */
export function suitesOver({ describe, test }: Runner): Suites {
  const describeCases = (title: string, cases: readonly ConformanceCase[]) =>
    describe(title, () => {
      for (const c of cases) {
        test(c.name, async (skip) => {
          try {
            await c.run()
          } catch (err) {
            if (!isCaseSkipped(err)) throw err
            skip(err.message)
          }
        })
      }
    })
  return {
    describeCases,
    describeSessionStore: (name, factory) =>
      describeCases(`SessionStore conformance: ${name}`, sessionStoreCases(factory)),
    describeReplayStore: (name, factory) =>
      describeCases(`ReplayStore conformance: ${name}`, replayStoreCases(factory)),
    describeRelayOutbox: (name, factory) =>
      describeCases(`relay outbox conformance: ${name}`, relayOutboxCases(factory)),
  }
}
