/**
 * The conformance cases of a {@link RelayOutboxRevoker}: rows written with the revocation (none
 * when its write fails), no second row for a replayed token, leases that exclude a second taker
 * until they expire, the states the drainer and `relays.*` move rows through, and how long
 * finished rows are kept.
 * @module
 */
import type { RelayOutboxRevoker } from '../relay-outbox.js'
import type { ReplayStore } from '../replay.js'
import type { RevocationTarget, SessionStore } from '../session.js'
import { equal, match, ok, present, rejects } from './_internal/check.js'
import { type CaseContext, defineCase } from './_internal/define-case.js'
import type { ConformanceCase, Factory } from './cases.js'

const ISS = 'https://id.example.com'
const DAY = 86_400

/** A logout of `sid` for app `wiki`, relayed to one `forward` and one `sign` relay. */
const targetAt = (now: number, sid: string): RevocationTarget => ({
  app: 'wiki',
  iss: ISS,
  sub: 'alice',
  sid,
  scope: 'session',
  issuedAt: now,
  jti: `jti-${sid}`,
  relay: {
    relays: [
      { url: 'https://a.example.com/bcl', mode: 'forward' },
      { url: 'https://b.example.com/bcl', mode: 'sign', clientId: 'b' },
    ],
    token: 'header.payload.signature',
    expiresAt: now + 120,
  },
})

/** Revokes as the flow does: claim and revoke in one write where the store can, else claim then revoke. */
function logoutOf({ store, clock, skip }: CaseContext<RelayOutboxRevoker>) {
  const replay = store as RelayOutboxRevoker & Partial<ReplayStore>
  const { claimAndRevoke, claim } = replay
  if (!claimAndRevoke && !claim) return skip('this store is no ReplayStore: a separate one keeps replays from it')
  return async (target: RevocationTarget) => {
    const key = `wiki|${target.jti}`
    if (claimAndRevoke) return (await claimAndRevoke.call(replay, key, clock.now() + 600, target)).claimed
    if (!(await claim?.call(replay, key, clock.now() + 600))) return false
    await store.revoke(target)
    return true
  }
}

/** Takes the first due delivery, or fails the case. */
async function takeFirst({ store }: CaseContext<RelayOutboxRevoker>) {
  const first = present((await store.outbox.pending()).due[0], 'the first due delivery')
  equal((await store.outbox.take(first.id, 30))?.id, first.id, 'take() of a due delivery')
  return first
}

/**
 * The relay outbox conformance cases against the stores `factory` builds, one fresh store per
 * case. Give the subject a `failWrites` to run the case of a failed write.
 *
 * @example
 * ```ts
 * import { relayOutboxCases } from '@backchannel/core/testing'
 * const cases = relayOutboxCases(async (clock) => {
 *   const store = await createSqlStore({ now: clock.now })
 *   return { store, cleanup: () => store.close(), failWrites: () => store.pool.end() }
 * })
 * ```
 */
export function relayOutboxCases(factory: Factory<RelayOutboxRevoker>): ConformanceCase[] {
  const it = (name: string, check: (ctx: CaseContext<RelayOutboxRevoker>) => Promise<void>) =>
    defineCase(factory, name, check)
  return [
    it('writes one delivery per relay with the revocation, the IdP’s token kept for forward only', async (ctx) => {
      const { store, clock } = ctx
      ok(store.relayOutbox === true, 'relayOutbox is true')
      const sessions = store as RelayOutboxRevoker & Partial<SessionStore>
      await sessions.register?.({ app: 'wiki', iss: ISS, sessionId: 's1', sub: 'alice', sid: 'x' })
      await store.revoke(targetAt(clock.now(), 'x'))
      const { due, count } = await store.outbox.pending()
      equal(count, 2, 'pending().count')
      match(
        due.find((d) => d.mode === 'forward'),
        {
          app: 'wiki',
          url: 'https://a.example.com/bcl',
          state: 'pending',
          attempts: 0,
          logout: { iss: ISS, sub: 'alice', sid: 'x', token: 'header.payload.signature', expiresAt: clock.now() + 120 },
        },
        'the forward delivery',
      )
      // A signed relay gets a fresh token from the gateway: the IdP's is not kept for it.
      equal(due.find((d) => d.mode === 'sign')?.logout, { iss: ISS, sub: 'alice', sid: 'x' }, 'the sign delivery')
    }),

    it('stores neither the revocation nor its deliveries when the write fails', async ({
      store,
      clock,
      subject,
      skip,
    }) => {
      if (!subject.failWrites) return skip('the factory gives no failWrites(): a failed write cannot be made')
      subject.failWrites()
      const target = targetAt(clock.now(), 'x')
      await rejects(store.revoke(target), { code: 'ERR_STORE_UNAVAILABLE' }, 'revoke() on failing writes')
      equal(await store.recorded?.(target), store.recorded ? false : undefined, 'recorded() of the failed logout')
      equal((await store.outbox.pending()).count, 0, 'pending().count')
      equal(await store.outbox.list(), [], 'list()')
    }),

    it('writes no second delivery for a replayed token, and keeps the first past the time a write may take', async (ctx) => {
      const logout = logoutOf(ctx)
      const { store, clock } = ctx
      equal(await logout(targetAt(clock.now(), 'x')), true, 'the first logout claimed')
      equal(await logout(targetAt(clock.now(), 'x')), false, 'the replay claimed')
      equal((await store.outbox.pending()).count, 2, 'pending().count')
      equal((await store.outbox.list({ app: 'wiki' })).length, 2, 'list({ app }).length')
      clock.advance(61)
      equal((await store.outbox.pending()).count, 2, 'pending().count a minute later')
    }),

    it('leases a delivery to one taker until the lease expires, and settles it', async (ctx) => {
      const { store, clock } = ctx
      await store.revoke(targetAt(clock.now(), 'x'))
      const first = await takeFirst(ctx)
      equal(await store.outbox.take(first.id, 30), undefined, 'take() while leased')
      clock.advance(31)
      equal((await store.outbox.take(first.id, 30))?.id, first.id, 'take() once the lease expired')
      await store.outbox.settle({
        ...first,
        state: 'delivered',
        attempts: 1,
        lastStatus: 200,
        deliveredAt: clock.now(),
      })
      equal(await store.outbox.take(first.id, 30), undefined, 'take() of a delivered row')
      match(await store.outbox.get(first.id), { state: 'delivered', attempts: 1 }, 'get() of the delivered row')
      equal((await store.outbox.pending()).count, 1, 'pending().count')
    }),

    it('does not bring back a delivery discarded while its attempt ran', async (ctx) => {
      const { store, clock } = ctx
      await store.revoke(targetAt(clock.now(), 'x'))
      const first = await takeFirst(ctx)
      equal(await store.outbox.discard(first.id), true, 'discard()')
      await store.outbox.settle({ ...first, attempts: 1, lastStatus: 503, nextAttemptAt: clock.now() + 5 })
      equal(await store.outbox.get(first.id), undefined, 'get() after the late settle()')
      equal((await store.outbox.pending()).count, 1, 'pending().count')
    }),

    it('does not hand out a delivery before its next attempt is due', async (ctx) => {
      const { store, clock } = ctx
      await store.revoke(targetAt(clock.now(), 'x'))
      const first = await takeFirst(ctx)
      await store.outbox.settle({ ...first, attempts: 1, lastStatus: 503, nextAttemptAt: clock.now() + 5 })
      const due = (await store.outbox.pending()).due.map((d) => d.id)
      ok(!due.includes(first.id), 'pending().due leaves out a delivery not yet due')
      equal(await store.outbox.take(first.id, 30), undefined, 'take() before it is due')
      clock.advance(5)
      equal((await store.outbox.take(first.id, 30))?.attempts, 1, 'attempts of the row taken once due')
    }),

    it('lists deliveries newest first by app and state, retries a dead one and discards one', async ({
      store,
      clock,
    }) => {
      const { outbox } = store
      await store.revoke(targetAt(clock.now(), 'x'))
      clock.advance(1)
      await store.revoke({ ...targetAt(clock.now(), 'y'), app: 'other' })
      const all = await outbox.list()
      equal(
        all.map((d) => d.app),
        ['other', 'other', 'wiki', 'wiki'],
        'apps of list()',
      )
      equal((await outbox.list({ app: 'wiki' })).length, 2, 'list({ app }).length')
      const page = await outbox.list({ limit: 3 })
      equal(await outbox.list({ before: page.at(-1)?.id }), [all[3]], 'list({ before }) after a page of 3')

      const dead = present((await outbox.list({ app: 'wiki' }))[0], "wiki's newest delivery")
      equal((await outbox.take(dead.id, 30))?.id, dead.id, 'take() of a due delivery')
      await outbox.settle({ ...dead, state: 'dead', attempts: 1, lastStatus: 400, lastError: 'HTTP 400' })
      match(await outbox.list({ state: 'dead' }), [{ id: dead.id }], 'list({ state: "dead" })')
      equal((await outbox.pending()).count, 3, 'pending().count')
      equal(await outbox.retry(dead.id), true, 'retry() of a dead delivery')
      // A fresh budget: attempts and the give-up age count from the retry.
      match(await outbox.get(dead.id), { state: 'pending', attempts: 0, retriedAt: clock.now() }, 'the retried row')
      ok(
        (await outbox.pending()).due.some((d) => d.id === dead.id),
        'pending().due holds the retried row',
      )
      // Retrying a pending row only indexes it again (one left unindexed by a crash is found).
      equal(await outbox.retry(dead.id), false, 'retry() of a pending delivery')
      equal((await outbox.pending()).count, 4, 'pending().count')

      equal(await outbox.discard(dead.id), true, 'discard()')
      equal(await outbox.discard(dead.id), false, 'discard() again')
      equal(await outbox.get(dead.id), undefined, 'get() of the discarded row')
      equal((await outbox.pending()).count, 3, 'pending().count')
      equal(await outbox.retry(dead.id), false, 'retry() of the discarded row')
      equal(await outbox.get('not-an-id'), undefined, 'get() of an unknown id')
    }),

    it('keeps delivered rows 7 days and dead rows 30 days', async ({ store, clock }) => {
      const { outbox } = store
      await store.revoke(targetAt(clock.now(), 'x'))
      const { due } = await outbox.pending()
      const [a, b] = [present(due[0], 'a first due delivery'), present(due[1], 'a second due delivery')]
      for (const d of [a, b]) await outbox.take(d.id, 30)
      await outbox.settle({ ...a, state: 'delivered', attempts: 1, deliveredAt: clock.now() })
      await outbox.settle({ ...b, state: 'dead', attempts: 1 })
      clock.advance(7 * DAY + 1)
      equal(await outbox.get(a.id), undefined, 'the delivered row after 7 days')
      match(await outbox.get(b.id), { state: 'dead' }, 'the dead row after 7 days')
      clock.advance(23 * DAY)
      equal(await outbox.get(b.id), undefined, 'the dead row after 30 days')
    }),
  ]
}
