/**
 * `@backchannel/core/testing/node`: the conformance cases as `node:test` suites, one `it` per case
 * (a case a store cannot run, for want of an optional method, is skipped, saying why). Run the
 * file with `node --test`. Re-exports `@backchannel/core/testing`, so one import serves a test file.
 *
 * @example
 * ```ts
 * import { describeReplayStore, describeSessionStore } from '@backchannel/core/testing/node'
 * describeSessionStore('my store', (clock) => createMyStore({ now: clock.now }))
 * ```
 * @module
 */
import { describe, it } from 'node:test'
import { type Suites, suitesOver } from './_internal/suites.js'

export type { Suites } from './_internal/suites.js'
export * from './index.js'

const suites = suitesOver({
  describe,
  test: (name, body) => it(name, (t) => body((why) => t.skip(why))),
})

/**
 * Runs cases as one `node:test` `describe` ({@link Suites.describeCases}).
 *
 * @example
 * ```ts
 * describeCases('my store', sessionStoreCases((clock) => createMyStore({ now: clock.now })))
 * ```
 */
export const describeCases: Suites['describeCases'] = suites.describeCases

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
