/**
 * What every preset must do for the relay outbox: rows written in the revocation's own write, no
 * second row for a replayed token, leases that exclude a second taker until they expire, and the
 * states `relays.*` moves rows through.
 */
import type { RevocationTarget } from '@backchannel/core'
import { createManualClock, type Factory, type ManualClock } from '@backchannel/core/testing'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { keys } from '../src/_internal/keys.js'
import type { RecordWrite } from '../src/backend.js'
import type { BackchannelStore } from '../src/index.js'

const iss = 'https://id.example.com'

export function describeOutbox(name: string, factory: Factory<BackchannelStore>): void {
  describe(`relay outbox: ${name}`, () => {
    let clock: ManualClock
    let store: BackchannelStore
    let cleanup: (() => unknown) | undefined
    beforeEach(async () => {
      clock = createManualClock()
      const made = await factory(clock)
      ;({ store, cleanup } = 'store' in made ? made : { store: made, cleanup: undefined })
    })
    afterEach(async () => {
      await cleanup?.()
    })

    const target = (sid: string): RevocationTarget => ({
      app: 'wiki',
      iss,
      sub: 'alice',
      sid,
      scope: 'session',
      issuedAt: clock.now(),
      jti: `jti-${sid}`,
      relay: {
        relays: [
          { url: 'https://a.example.com/bcl', mode: 'forward' },
          { url: 'https://b.example.com/bcl', mode: 'sign', clientId: 'b' },
        ],
        token: 'header.payload.signature',
        expiresAt: clock.now() + 120,
      },
    })

    /** Revokes as the flow does: claim and revoke in one write where the store can, else claim then revoke. */
    const logout = async (t: RevocationTarget) => {
      const key = `wiki|${t.jti}`
      if (store.claimAndRevoke) return (await store.claimAndRevoke(key, clock.now() + 600, t)).claimed
      if (!(await store.claim(key, clock.now() + 600))) return false
      await store.revoke(t)
      return true
    }

    it('writes one delivery per relay in the revocation’s own write (before it, where writes are not atomic)', async () => {
      const calls: string[][] = []
      const { backend } = store
      for (const method of ['setMany', 'claimAndSetMany'] as const) {
        const original = backend[method]?.bind(backend) as ((...args: unknown[]) => Promise<unknown>) | undefined
        if (!original) continue
        // Wrapped on the backend object the store calls through; still a real write.
        Object.assign(backend, {
          [method]: (...args: unknown[]) => {
            const entries = (method === 'setMany' ? args[0] : args[1]) as RecordWrite[]
            calls.push(entries.map((e) => e.key))
            return original(...args)
          },
        })
      }
      await store.register({ app: 'wiki', iss, sessionId: 's1', sub: 'alice', sid: 'x' })
      await store.revoke(target('x'))
      const { due, count } = await store.outbox.pending()
      expect(count).toBe(2)
      const tombstone = keys.of('wiki', iss).tombstone('x')
      const rows = due.map((d) => keys.delivery(d.id) ?? d.id)
      const markers = calls.findIndex((c) => c.includes(tombstone))
      if (backend.claimAndSetMany) expect(calls[markers]).toEqual(expect.arrayContaining(rows))
      else {
        // No atomic write: the rows first, so a marker saying the logout is recorded implies them.
        const written = calls.findIndex((c) => rows.every((key) => c.includes(key)))
        expect(written).toBeGreaterThanOrEqual(0)
        expect(written).toBeLessThan(markers)
      }
      const forward = due.find((d) => d.mode === 'forward')
      expect(forward).toMatchObject({
        app: 'wiki',
        url: 'https://a.example.com/bcl',
        state: 'pending',
        attempts: 0,
        logout: { iss, sub: 'alice', sid: 'x', token: 'header.payload.signature', expiresAt: clock.now() + 120 },
      })
      // A signed relay gets a fresh token from the gateway: the IdP's is not kept for it.
      expect(due.find((d) => d.mode === 'sign')?.logout).toEqual({ iss, sub: 'alice', sid: 'x' })
    })

    it('stores neither the revocation nor its deliveries when the write fails', async () => {
      const { backend } = store
      Object.assign(backend, { setMany: () => Promise.reject(new Error('connection lost')) })
      await expect(store.revoke(target('x'))).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' })
      expect(await store.recorded?.(target('x'))).toBe(false)
      expect((await store.outbox.pending()).count).toBe(0)
      expect(await store.outbox.list()).toEqual([])
    })

    it('writes no second delivery for a replayed token, and forgets the ids it named once they are old', async () => {
      expect(await logout(target('x'))).toBe(true)
      expect(await logout(target('x'))).toBe(false)
      expect((await store.outbox.pending()).count).toBe(2)
      expect(await store.outbox.list({ app: 'wiki' })).toHaveLength(2)
      clock.advance(61)
      expect((await store.outbox.pending()).count).toBe(2)
      expect(await store.backend.members(keys.relayPending)).toHaveLength(2)
    })

    it('leases a delivery to one taker until the lease expires, and settles it', async () => {
      await store.revoke(target('x'))
      const [first] = (await store.outbox.pending()).due
      if (!first) throw new Error('no delivery')
      const taken = await store.outbox.take(first.id, 30)
      expect(taken?.id).toBe(first.id)
      expect(await store.outbox.take(first.id, 30)).toBeUndefined()
      clock.advance(31)
      const again = await store.outbox.take(first.id, 30)
      expect(again?.id).toBe(first.id)
      await store.outbox.settle({
        ...first,
        state: 'delivered',
        attempts: 1,
        lastStatus: 200,
        deliveredAt: clock.now(),
      })
      expect(await store.outbox.take(first.id, 30)).toBeUndefined()
      expect(await store.outbox.get(first.id)).toMatchObject({ state: 'delivered', attempts: 1 })
      expect((await store.outbox.pending()).count).toBe(1)
    })

    it('does not bring back a delivery discarded while its attempt ran', async () => {
      await store.revoke(target('x'))
      const [first] = (await store.outbox.pending()).due
      if (!first || !(await store.outbox.take(first.id, 30))) throw new Error('no delivery')
      expect(await store.outbox.discard(first.id)).toBe(true)
      await store.outbox.settle({ ...first, attempts: 1, lastStatus: 503, nextAttemptAt: clock.now() + 5 })
      expect(await store.outbox.get(first.id)).toBeUndefined()
      expect((await store.outbox.pending()).count).toBe(1)
    })

    it('does not hand out a delivery before its next attempt is due', async () => {
      await store.revoke(target('x'))
      const [first] = (await store.outbox.pending()).due
      if (!first || !(await store.outbox.take(first.id, 30))) throw new Error('no delivery')
      await store.outbox.settle({ ...first, attempts: 1, lastStatus: 503, nextAttemptAt: clock.now() + 5 })
      expect((await store.outbox.pending()).due.map((d) => d.id)).not.toContain(first.id)
      expect(await store.outbox.take(first.id, 30)).toBeUndefined()
      clock.advance(5)
      expect((await store.outbox.take(first.id, 30))?.attempts).toBe(1)
    })

    it('lists deliveries newest first by app and state, retries a dead one and discards one', async () => {
      await store.revoke(target('x'))
      clock.advance(1)
      await store.revoke({ ...target('y'), app: 'other' })
      const all = await store.outbox.list()
      expect(all).toHaveLength(4)
      expect(all.map((d) => d.app)).toEqual(['other', 'other', 'wiki', 'wiki'])
      expect(await store.outbox.list({ app: 'wiki' })).toHaveLength(2)
      const page = await store.outbox.list({ limit: 3 })
      expect(await store.outbox.list({ before: page.at(-1)?.id })).toEqual([all[3]])

      const [dead] = await store.outbox.list({ app: 'wiki' })
      if (!dead || !(await store.outbox.take(dead.id, 30))) throw new Error('no delivery')
      await store.outbox.settle({ ...dead, state: 'dead', attempts: 1, lastStatus: 400, lastError: 'HTTP 400' })
      expect(await store.outbox.list({ state: 'dead' })).toEqual([expect.objectContaining({ id: dead.id })])
      expect((await store.outbox.pending()).count).toBe(3)
      expect(await store.outbox.retry(dead.id)).toBe(true)
      // A fresh budget: attempts and the give-up age count from the retry.
      expect(await store.outbox.get(dead.id)).toMatchObject({ state: 'pending', attempts: 0, retriedAt: clock.now() })
      expect((await store.outbox.pending()).due.map((d) => d.id)).toContain(dead.id)
      // Retrying a pending row only indexes it again (one left unindexed by a crash is found).
      expect(await store.outbox.retry(dead.id)).toBe(false)
      expect((await store.outbox.pending()).count).toBe(4)

      expect(await store.outbox.discard(dead.id)).toBe(true)
      expect(await store.outbox.discard(dead.id)).toBe(false)
      expect(await store.outbox.get(dead.id)).toBeUndefined()
      expect((await store.outbox.pending()).count).toBe(3)
      expect(await store.outbox.retry(dead.id)).toBe(false)
      expect(await store.outbox.get('not-an-id')).toBeUndefined()
    })

    it('keeps delivered rows 7 days and dead rows 30 days', async () => {
      await store.revoke(target('x'))
      const [a, b] = (await store.outbox.pending()).due
      if (!a || !b) throw new Error('no deliveries')
      for (const d of [a, b]) await store.outbox.take(d.id, 30)
      await store.outbox.settle({ ...a, state: 'delivered', attempts: 1, deliveredAt: clock.now() })
      await store.outbox.settle({ ...b, state: 'dead', attempts: 1 })
      clock.advance(7 * 86_400 + 1)
      expect(await store.outbox.get(a.id)).toBeUndefined()
      expect(await store.outbox.get(b.id)).toMatchObject({ state: 'dead' })
      clock.advance(23 * 86_400)
      expect(await store.outbox.get(b.id)).toBeUndefined()
    })
  })
}
