/**
 * The relay outbox of every preset: core's conformance suite (`describeRelayOutbox`), with a
 * backend whose writes can be made to fail, then what only this package's backends show: which
 * backend write carries the delivery rows, and the pending index they are named in.
 */
import type { RevocationTarget } from '@backchannel/core'
import {
  createManualClock,
  describeRelayOutbox,
  type Factory,
  type ManualClock,
  type Subject,
} from '@backchannel/core/testing/vitest'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { keys } from '../src/_internal/keys.js'
import type { RecordWrite } from '../src/backend.js'
import type { BackchannelStore } from '../src/index.js'

const iss = 'https://id.example.com'

const subjectOf = (made: BackchannelStore | Subject<BackchannelStore>): Subject<BackchannelStore> =>
  'store' in made ? made : { store: made }

export function describeOutbox(name: string, factory: Factory<BackchannelStore>): void {
  describeRelayOutbox(name, async (clock) => {
    const subject = subjectOf(await factory(clock))
    const { backend } = subject.store
    const failWrites = () => Object.assign(backend, { setMany: () => Promise.reject(new Error('connection lost')) })
    return { ...subject, failWrites }
  })

  describe(`relay outbox writes: ${name}`, () => {
    let clock: ManualClock
    let store: BackchannelStore
    let cleanup: (() => unknown) | undefined
    beforeEach(async () => {
      clock = createManualClock()
      ;({ store, cleanup } = subjectOf(await factory(clock)))
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

    it('writes the deliveries in the revocation’s own backend write (before it, where writes are not atomic)', async () => {
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
      const { due } = await store.outbox.pending()
      expect(due).toHaveLength(2)
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
    })

    it('forgets the ids a replayed token named in the pending index once they are old', async () => {
      // As the flow revokes: claim and revoke in one write where the store can, else claim then revoke.
      const logout = async (t: RevocationTarget) => {
        const key = `wiki|${t.jti}`
        if (store.claimAndRevoke) return (await store.claimAndRevoke(key, clock.now() + 600, t)).claimed
        if (!(await store.claim(key, clock.now() + 600))) return false
        await store.revoke(t)
        return true
      }
      expect(await logout(target('x'))).toBe(true)
      expect(await logout(target('x'))).toBe(false)
      clock.advance(61)
      expect((await store.outbox.pending()).count).toBe(2)
      expect(await store.backend.members(keys.relayPending)).toHaveLength(2)
    })
  })
}
