/**
 * The relay outbox of every preset: core's conformance suite (`describeRelayOutbox`), with a
 * backend whose writes can be made to fail, then what only this package's backends show: which
 * backend write carries the delivery rows, and the pending index they are named in.
 */
import {
  createManualClock,
  describeRelayOutbox,
  type Factory,
  type ManualClock,
  relayTarget,
  subjectOf,
} from '@backchannel/core/testing/vitest'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { keys } from '../src/_internal/keys.js'
import type { RecordWrite, StoreBackend } from '../src/backend.js'
import type { BackchannelStore } from '../src/index.js'

const iss = 'https://id.example.com'

/** Routes `backend`'s commits (`setMany`, `claimAndSetMany`) through `around`, with the entries each writes. */
function aroundCommits(
  backend: StoreBackend,
  around: (entries: RecordWrite[], commit: () => Promise<unknown>) => Promise<unknown>,
) {
  for (const method of ['setMany', 'claimAndSetMany'] as const) {
    const original = backend[method]?.bind(backend) as ((...args: unknown[]) => Promise<unknown>) | undefined
    if (!original) continue
    // Wrapped on the backend object the store calls through; still real writes.
    Object.assign(backend, {
      [method]: (...args: unknown[]) =>
        around((method === 'setMany' ? args[0] : args[1]) as RecordWrite[], () => original(...args)),
    })
  }
}

/** Makes `backend`'s commits fail once `after` more have succeeded. */
function failCommits(backend: StoreBackend, after = 0) {
  let left = after
  aroundCommits(backend, (_entries, commit) => (left-- > 0 ? commit() : Promise.reject(new Error('connection lost'))))
}

export function describeOutbox(name: string, factory: Factory<BackchannelStore>): void {
  describeRelayOutbox(name, async (clock) => {
    const subject = subjectOf(await factory(clock))
    return { ...subject, failWrites: (after?: number) => failCommits(subject.store.backend, after) }
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

    const target = (sid: string) => relayTarget(clock.now(), sid)

    it('writes the deliveries in the revocation’s own backend write (before it, where writes are not atomic)', async () => {
      const calls: string[][] = []
      const { backend } = store
      aroundCommits(backend, (entries, commit) => {
        calls.push(entries.map((e) => e.key))
        return commit()
      })
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
      // As the flow revokes: claim and revoke in one write where the store can, else claim then
      // revoke. The ids are named before the write, which a replay does not make.
      const logout = async () => {
        if (store.claimAndRevoke)
          return (await store.claimAndRevoke('wiki|jti-x', clock.now() + 600, target('x'))).claimed
        if (!(await store.claim('wiki|jti-x', clock.now() + 600))) return false
        await store.revoke(target('x'))
        return true
      }
      expect(await logout()).toBe(true)
      expect(await logout()).toBe(false)
      clock.advance(61)
      expect((await store.outbox.pending()).count).toBe(2)
      expect(await store.backend.members(keys.relayPending)).toHaveLength(2)
    })
  })
}

/** For presets shared by several gateways: of 40 concurrent takes across 4 store instances, one gets the row. */
export function itTakesOnceAcrossInstances(open: (shared: string) => Promise<BackchannelStore> | BackchannelStore) {
  it('gives a delivery to exactly 1 of 40 concurrent take() calls across 4 store instances', async () => {
    const shared = `take${Date.now()}`
    const stores = await Promise.all(Array.from({ length: 4 }, () => open(shared)))
    try {
      await stores[0]?.revoke(relayTarget(Date.now() / 1000, 'x'))
      const id = (await stores[0]?.outbox.pending())?.due[0]?.id as string
      expect(id).toBeTypeOf('string')
      const taken = await Promise.all(Array.from({ length: 40 }, (_, i) => stores[i % 4]?.outbox.take(id, 30)))
      expect(taken.filter((d) => d !== undefined).map((d) => d?.id)).toEqual([id])
    } finally {
      await Promise.all(stores.map((s) => s.close()))
    }
  })
}
