/**
 * `@backchannel/core/testing/node`: the conformance cases as `node:test` suites, one `it` per case
 * (a case a store cannot run, for want of an optional method, is skipped, saying why). Run the
 * file with `node --test`. Re-exports `@backchannel/core/testing`, so one import serves it.
 *
 * @example
 * ```ts
 * import { describeSessionStore } from '@backchannel/core/testing/node'
 * describeSessionStore('my store', (clock) => createMyStore({ now: clock.now }))
 * ```
 * @module
 */
import { describe, it } from 'node:test'
import { type Suites, suitesOver } from './_internal/suites.js'
import { type ConformanceCase, isCaseSkipped } from './cases.js'

export type { Suites } from './_internal/suites.js'
export * from './index.js'

/**
 * Runs `cases` as one `node:test` `describe` named `title`.
 *
 * @example
 * ```ts
 * import { describeCases, sessionStoreCases } from '@backchannel/core/testing/node'
 * describeCases('my store', sessionStoreCases((clock) => createMyStore({ now: clock.now })))
 * ```
 */
export function describeCases(title: string, cases: readonly ConformanceCase[]): void {
  describe(title, () => {
    for (const c of cases) {
      it(c.name, async (t) => {
        try {
          await c.run()
        } catch (err) {
          if (!isCaseSkipped(err)) throw err
          t.skip(err.message)
        }
      })
    }
  })
}

const suites = suitesOver(describeCases)

/**
 * Runs the session conformance suite ({@link Suites.describeSessionStore}).
 *
 * @example
 * ```ts
 * describeSessionStore('my store', async (clock) => ({ store: await createMyStore({ now: clock.now }) }))
 * ```
 */
export const describeSessionStore: Suites['describeSessionStore'] = suites.describeSessionStore

/**
 * Runs the replay conformance suite ({@link Suites.describeReplayStore}).
 *
 * @example
 * ```ts
 * describeReplayStore('my store', (clock) => createMyStore({ now: clock.now }))
 * ```
 */
export const describeReplayStore: Suites['describeReplayStore'] = suites.describeReplayStore

/**
 * Runs the relay outbox conformance suite ({@link Suites.describeRelayOutbox}).
 *
 * @example
 * ```ts
 * describeRelayOutbox('my store', async (clock) => ({ store: await createMyStore({ now: clock.now }) }))
 * ```
 */
export const describeRelayOutbox: Suites['describeRelayOutbox'] = suites.describeRelayOutbox
