/**
 * The conformance cases of a {@link RelayOutboxRevoker}: rows written in the revocation's own
 * write (none when it fails), no second row for a replayed token, leases that exclude a second
 * taker until they expire (and a late settle by a former holder), the states the drainer and
 * `relays.*` move rows through, and how long finished rows are kept.
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

/**
 * The logout the outbox cases revoke: `sid` of `alice` at app `wiki`, issued at `now` (seconds
 * since epoch), relayed to one `forward` and one `sign` relay. For cases of your own beside them.
 *
 * @example
 * ```ts
 * await store.revoke(relayTarget(clock.now(), 'x')) // two pending deliveries
 * ```
 */
export const relayTarget = (now: number, sid: string): RevocationTarget => ({
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

/** The session a logout of `sid` ends, for stores that register sessions. */
const sessionOf = (sid: string) => ({ app: 'wiki', iss: ISS, sessionId: `s-${sid}`, sub: 'alice', sid })

/**
 * Claims and revokes in one call, as the flow does with a store that has `claimAndRevoke`. A
 * store without it leaves replays to the flow's separate claim, which writes no row either way:
 * there is nothing of the store's to check.
 */
function logoutOf({ store, clock, skip }: CaseContext<RelayOutboxRevoker>) {
  const replay = store as RelayOutboxRevoker & Partial<ReplayStore>
  const { claimAndRevoke } = replay
  if (!claimAndRevoke) return skip('this store has no claimAndRevoke(): the flow claims replays apart from it')
  return async (target: RevocationTarget) =>
    (await claimAndRevoke.call(replay, `wiki|${target.jti}`, clock.now() + 600, target)).claimed
}

/**
 * How a case reads whether `target`'s revocation is stored: `recorded()` where the store has it,
 * else the status of session `s-<sid>` (registered by the case beforehand) where it has sessions.
 */
function revokedOf(store: RelayOutboxRevoker): ((target: RevocationTarget) => Promise<boolean>) | undefined {
  const { recorded, status } = store as RelayOutboxRevoker & Partial<SessionStore>
  if (recorded) return (target) => recorded.call(store, target)
  if (status) return async (target) => (await status.call(store, target.app, `s-${target.sid}`)).state === 'revoked'
  return undefined
}

/** Takes the first due delivery, or fails the case: the row as taken, its lease token with it. */
async function takeFirst({ store }: CaseContext<RelayOutboxRevoker>) {
  const first = present((await store.outbox.pending()).due[0], 'the first due delivery')
  const taken = present(await store.outbox.take(first.id, 30), 'take() of a due delivery')
  equal(taken.id, first.id, 'the id take() returned')
  return taken
}

/**
 * The relay outbox conformance cases against the stores `factory` builds, one fresh store per
 * case. Give the subject a `failWrites` to run the cases of failed writes.
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
      await (store as RelayOutboxRevoker & Partial<SessionStore>).register?.(sessionOf('x'))
      await store.revoke(relayTarget(clock.now(), 'x'))
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

    it('stores neither the revocation nor its deliveries when the write fails', async (ctx) => {
      const { store, clock, subject, skip } = ctx
      if (!subject.failWrites) return skip('the factory gives no failWrites(): a failed write cannot be made')
      const sessions = store as RelayOutboxRevoker & Partial<SessionStore>
      await sessions.register?.(sessionOf('x'))
      subject.failWrites()
      const target = relayTarget(clock.now(), 'x')
      await rejects(store.revoke(target), { code: 'ERR_STORE_UNAVAILABLE' }, 'revoke() on failing writes')
      if (store.recorded) equal(await store.recorded(target), false, 'recorded() of the failed logout')
      if (sessions.status) match(await sessions.status('wiki', 's-x'), { state: 'active' }, 'the session’s status')
      equal((await store.outbox.pending()).count, 0, 'pending().count')
      equal(await store.outbox.list(), [], 'list()')
    }),

    it('stores no revocation without its deliveries, even when the write after the first fails', async (ctx) => {
      const { store, clock, subject, skip } = ctx
      const revoked = revokedOf(store)
      if (!subject.failWrites) return skip('the factory gives no failWrites(): a failed write cannot be made')
      if (!revoked) return skip('this store has neither recorded() nor status(): a revocation cannot be read')
      await (store as RelayOutboxRevoker & Partial<SessionStore>).register?.(sessionOf('x'))
      // The first write may commit, the second fails: a revoker writing the revocation first is caught halfway.
      subject.failWrites(1)
      const target = relayTarget(clock.now(), 'x')
      await store.revoke(target).catch(() => undefined)
      // Rows without the revocation may stay, where a store writes them first: the failed logout is retried.
      if (await revoked(target))
        equal((await store.outbox.list()).length, 2, 'deliveries stored with the recorded logout')
    }),

    it('claimAndRevoke() writes no second delivery for a replayed token, and keeps the first past the time a write may take', async (ctx) => {
      const logout = logoutOf(ctx)
      const { store, clock } = ctx
      equal(await logout(relayTarget(clock.now(), 'x')), true, 'the first logout claimed')
      equal(await logout(relayTarget(clock.now(), 'x')), false, 'the replay claimed')
      equal((await store.outbox.pending()).count, 2, 'pending().count')
      equal((await store.outbox.list({ app: 'wiki' })).length, 2, 'list({ app }).length')
      clock.advance(61)
      equal((await store.outbox.pending()).count, 2, 'pending().count a minute later')
    }),

    it('leases a delivery to one taker until the lease expires, and settles it', async (ctx) => {
      const { store, clock } = ctx
      await store.revoke(relayTarget(clock.now(), 'x'))
      const first = await takeFirst(ctx)
      equal(await store.outbox.take(first.id, 30), undefined, 'take() while leased')
      clock.advance(31)
      const again = present(await store.outbox.take(first.id, 30), 'take() once the lease expired')
      equal(again.id, first.id, 'the id take() returned once the lease expired')
      await store.outbox.settle({
        ...again,
        state: 'delivered',
        attempts: 1,
        lastStatus: 200,
        deliveredAt: clock.now(),
      })
      equal(await store.outbox.take(first.id, 30), undefined, 'take() of a delivered row')
      match(await store.outbox.get(first.id), { state: 'delivered', attempts: 1 }, 'get() of the delivered row')
      equal((await store.outbox.pending()).count, 1, 'pending().count')
    }),

    it('gives a delivery to exactly one of 20 concurrent take() calls', async (ctx) => {
      const { store, clock } = ctx
      await store.revoke(relayTarget(clock.now(), 'x'))
      const first = present((await store.outbox.pending()).due[0], 'the first due delivery')
      const takes = await Promise.all(Array.from({ length: 20 }, () => store.outbox.take(first.id, 30)))
      equal(
        takes.filter((d) => d !== undefined).map((d) => d?.id),
        [first.id],
        'the rows the 20 take() calls returned',
      )
    }),

    it('ignores a late settle() by a former lease holder: the new holder’s lease and the row stay', async (ctx) => {
      const { store, clock } = ctx
      await store.revoke(relayTarget(clock.now(), 'x'))
      const a = await takeFirst(ctx)
      clock.advance(31)
      const b = present(await store.outbox.take(a.id, 30), 'take() by B once A’s lease expired')
      const { lease: _, ...stored } = b
      await store.outbox.settle({ ...a, state: 'delivered', attempts: 1, lastStatus: 200, deliveredAt: clock.now() })
      equal(await store.outbox.get(a.id), stored, 'get() after A’s late settle()')
      equal(await store.outbox.take(a.id, 30), undefined, 'take() while B holds the lease')
      await store.outbox.settle({ ...b, attempts: 1, lastStatus: 503, nextAttemptAt: clock.now() + 5 })
      match(
        await store.outbox.get(a.id),
        { state: 'pending', attempts: 1, lastStatus: 503 },
        'get() after B’s settle()',
      )
    }),

    it('does not bring back a delivery discarded while its attempt ran', async (ctx) => {
      const { store, clock } = ctx
      await store.revoke(relayTarget(clock.now(), 'x'))
      const first = await takeFirst(ctx)
      equal(await store.outbox.discard(first.id), true, 'discard()')
      await store.outbox.settle({ ...first, attempts: 1, lastStatus: 503, nextAttemptAt: clock.now() + 5 })
      equal(await store.outbox.get(first.id), undefined, 'get() after the late settle()')
      equal((await store.outbox.pending()).count, 1, 'pending().count')
    }),

    it('does not hand out a delivery before its next attempt is due, and keeps its unsent tries', async (ctx) => {
      const { store, clock } = ctx
      await store.revoke(relayTarget(clock.now(), 'x'))
      const first = await takeFirst(ctx)
      const lastError = 'the token could not be minted'
      await store.outbox.settle({ ...first, unsentTries: 2, lastError, nextAttemptAt: clock.now() + 5 })
      const due = (await store.outbox.pending()).due.map((d) => d.id)
      ok(!due.includes(first.id), 'pending().due leaves out a delivery not yet due')
      equal(await store.outbox.take(first.id, 30), undefined, 'take() before it is due')
      clock.advance(5)
      match(
        await store.outbox.take(first.id, 30),
        { id: first.id, attempts: 0, unsentTries: 2, lastError },
        'the row taken once due',
      )
    }),

    it('lists deliveries newest first by app and state, retries a dead one afresh and discards one', async ({
      store,
      clock,
    }) => {
      const { outbox } = store
      await store.revoke(relayTarget(clock.now(), 'x'))
      clock.advance(1)
      await store.revoke({ ...relayTarget(clock.now(), 'y'), app: 'other' })
      const all = await outbox.list()
      equal(
        all.map((d) => d.app),
        ['other', 'other', 'wiki', 'wiki'],
        'apps of list()',
      )
      equal((await outbox.list({ app: 'wiki' })).length, 2, 'list({ app }).length')
      const page = await outbox.list({ limit: 3 })
      equal(await outbox.list({ before: page.at(-1)?.id }), [all[3]], 'list({ before }) after a page of 3')

      const newest = present((await outbox.list({ app: 'wiki' }))[0], "wiki's newest delivery")
      const dead = present(await outbox.take(newest.id, 30), 'take() of a due delivery')
      await outbox.settle({
        ...dead,
        state: 'dead',
        attempts: 1,
        unsentTries: 1,
        lastStatus: 400,
        lastError: 'HTTP 400',
      })
      match(await outbox.list({ state: 'dead' }), [{ id: dead.id }], 'list({ state: "dead" })')
      equal((await outbox.pending()).count, 3, 'pending().count')
      equal(await outbox.retry(dead.id), true, 'retry() of a dead delivery')
      // A fresh budget: attempts, unsent tries and the give-up age count from the retry.
      const retried = await outbox.get(dead.id)
      match(retried, { state: 'pending', attempts: 0, retriedAt: clock.now() }, 'the retried row')
      equal(retried?.unsentTries, undefined, 'unsentTries of the retried row')
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
      await store.revoke(relayTarget(clock.now(), 'x'))
      const { due } = await outbox.pending()
      const ids = [present(due[0], 'a first due delivery').id, present(due[1], 'a second due delivery').id]
      const [a, b] = await Promise.all(ids.map((id) => outbox.take(id, 30)))
      equal([a?.id, b?.id], ids, 'the ids take() returned')
      await outbox.settle({ ...present(a, 'a'), state: 'delivered', attempts: 1, deliveredAt: clock.now() })
      await outbox.settle({ ...present(b, 'b'), state: 'dead', attempts: 1 })
      clock.advance(7 * DAY + 1)
      equal(await outbox.get(ids[0] as string), undefined, 'the delivered row after 7 days')
      match(await outbox.get(ids[1] as string), { state: 'dead' }, 'the dead row after 7 days')
      clock.advance(23 * DAY)
      equal(await outbox.get(ids[1] as string), undefined, 'the dead row after 30 days')
    }),
  ]
}
