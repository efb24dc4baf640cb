/**
 * The conformance cases of a {@link ReplayStore}: a key is claimed once, by one of many concurrent
 * callers, until its expiry or its release.
 * @module
 */
import type { ReplayStore } from '../replay.js'
import { equal } from './_internal/check.js'
import { type CaseContext, defineCase } from './_internal/define-case.js'
import { type ConformanceCase, type Factory, ODD_STRINGS } from './cases.js'

/**
 * The replay conformance cases against the stores `factory` builds, one fresh store per case.
 *
 * @example
 * ```ts
 * import { replayStoreCases } from '@backchannel/core/testing'
 * const cases = replayStoreCases((clock) => redisReplayStore({ url, now: clock.now }))
 * ```
 */
export function replayStoreCases(factory: Factory<ReplayStore>): ConformanceCase[] {
  const it = (name: string, check: (ctx: CaseContext<ReplayStore>) => Promise<void>) => defineCase(factory, name, check)
  return [
    it('lets a key be claimed once', async ({ store, clock }) => {
      const until = clock.now() + 120
      equal(await store.claim('k1', until), true, 'the first claim of k1')
      equal(await store.claim('k1', until), false, 'the second claim of k1')
      equal(await store.claim('k2', until), true, 'the first claim of k2')
    }),

    it('lets exactly one of 50 concurrent claims win', async ({ store, clock }) => {
      const until = clock.now() + 120
      const results = await Promise.all(Array.from({ length: 50 }, () => store.claim('race', until)))
      equal(results.filter(Boolean).length, 1, 'claims won')
    }),

    it('frees a key once its expiry has passed', async ({ store, clock }) => {
      const until = clock.now() + 120
      equal(await store.claim('k', until), true, 'the first claim')
      clock.advance(119)
      equal(await store.claim('k', until), false, 'a claim a second before expiry')
      clock.advance(2)
      equal(await store.claim('k', clock.now() + 120), true, 'a claim a second after expiry')
      equal(await store.claim('k', clock.now() + 120), false, 'a claim after that')
    }),

    it('frees a released key at once', async ({ store, clock }) => {
      equal(await store.claim('k', clock.now() + 120), true, 'the first claim')
      await store.release('k')
      equal(await store.claim('k', clock.now() + 120), true, 'a claim after release()')
    }),

    it('keeps keys with odd characters apart', async ({ store, clock }) => {
      for (const odd of ODD_STRINGS) {
        equal(await store.claim(odd, clock.now() + 60), true, `the first claim of ${JSON.stringify(odd)}`)
        equal(await store.claim(odd, clock.now() + 60), false, `the second claim of ${JSON.stringify(odd)}`)
      }
      equal(await store.claim('a/b:c?d#e', clock.now() + 60), true, 'a prefix of an odd key')
    }),
  ]
}
