/**
 * `@backchannel/core/testing/vitest`: the conformance cases as vitest suites, one `it` per case
 * (a case a store cannot run, for want of an optional method, is skipped, saying why). Re-exports
 * `@backchannel/core/testing`, so one import serves a test file.
 *
 * @example
 * ```ts
 * import { describeReplayStore, describeSessionStore } from '@backchannel/core/testing/vitest'
 * describeSessionStore('my store', (clock) => createMyStore({ now: clock.now }))
 * ```
 * @module
 */
import { describe, it } from 'vitest'
import { type Suites, suitesOver } from './_internal/suites.js'
import { type ConformanceCase, isCaseSkipped } from './cases.js'

export type { Suites } from './_internal/suites.js'
export * from './index.js'

/**
 * Runs `cases` as one vitest `describe` named `title`.
 *
 * @example
 * ```ts
 * import { describeCases, sessionStoreCases } from '@backchannel/core/testing/vitest'
 * describeCases('my store', sessionStoreCases((clock) => createMyStore({ now: clock.now })))
 * ```
 */
export function describeCases(title: string, cases: readonly ConformanceCase[]): void {
  describe(title, () => {
    for (const c of cases) {
      it(c.name, async ({ skip }) => {
        try {
          await c.run()
        } catch (err) {
          if (isCaseSkipped(err)) return skip(err.message)
          throw err
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
