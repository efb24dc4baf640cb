/**
 * The in-memory reference {@link RelayOutboxRevoker}: the memory store whose revocations also
 * write their relay deliveries, and the outbox the gateway's drainer and `relays.*` read: the
 * semantics every outbox must match, in one process. Each outbox method reads and writes in one
 * turn, so it is atomic; nothing can fail between a revocation and its rows, so they are one write.
 * @module
 */
import type { RelayDelivery, RelayOutbox, RelayOutboxRevoker } from '../relay-outbox.js'
import type { ReplayStore } from '../replay.js'
import type { RevocationTarget, SessionStore } from '../session.js'
import { createMemoryStore, type MemoryStoreOptions } from './memory.js'

const DAY = 86_400
/** Seconds delivered and dead rows are kept. */
const KEPT = { delivered: 7 * DAY, dead: 30 * DAY }

interface Row {
  delivery: RelayDelivery
  /** Creation order: `list()` is newest first. */
  seq: number
  /** Delivered and dead rows go at this time, seconds since epoch. */
  until?: number
}

/**
 * Builds the reference store with its relay outbox.
 *
 * @example
 * ```ts
 * import { createMemoryRelayStore } from '@backchannel/core/testing'
 * const store = createMemoryRelayStore()
 * await store.revoke(target) // with target.relay: one pending delivery per relay
 * const { due } = await store.outbox.pending()
 * ```
 */
export function createMemoryRelayStore(
  options: MemoryStoreOptions = {},
): SessionStore & ReplayStore & RelayOutboxRevoker {
  const now = options.now ?? (() => Date.now() / 1000)
  const sessions = createMemoryStore({ ...options, now })
  const rows = new Map<string, Row>()
  const leases = new Map<string, { token: string; until: number }>()
  let seq = 0

  const live = (id: string) => {
    const row = rows.get(id)
    if (row?.until !== undefined && row.until <= now()) rows.delete(id)
    return rows.get(id)
  }
  const held = (id: string, token: string | undefined) => {
    const lease = leases.get(id)
    return lease !== undefined && lease.token === token && lease.until > now()
  }
  const copy = (d: RelayDelivery): RelayDelivery => JSON.parse(JSON.stringify(d)) as RelayDelivery
  const stored = ({ lease: _, ...d }: RelayDelivery) => copy(d)

  /** Called in the same turn as the revocation: both are one write. */
  function addDeliveries(target: RevocationTarget) {
    const { relay } = target
    const t = now()
    for (const r of relay?.relays ?? []) {
      const id = `${target.app}:${++seq}`
      const forward = r.mode === 'forward'
      const delivery: RelayDelivery = {
        id,
        app: target.app,
        url: r.url,
        mode: r.mode,
        clientId: r.clientId,
        state: 'pending',
        attempts: 0,
        nextAttemptAt: t,
        createdAt: t,
        logout: {
          iss: target.iss,
          sub: target.sub,
          sid: target.sid,
          token: forward ? relay?.token : undefined,
          expiresAt: forward ? relay?.expiresAt : undefined,
        },
      }
      rows.set(id, { delivery: copy(delivery), seq })
    }
  }

  const outbox: RelayOutbox = {
    async pending(limit = 100) {
      const t = now()
      const pending = [...rows.keys()]
        .map((id) => live(id)?.delivery)
        .filter((d): d is RelayDelivery => d?.state === 'pending')
      const due = pending
        .filter((d) => (d.nextAttemptAt ?? 0) <= t)
        .sort((a, b) => (a.nextAttemptAt ?? 0) - (b.nextAttemptAt ?? 0) || a.createdAt - b.createdAt)
      const oldest = Math.min(...pending.map((d) => d.createdAt))
      return {
        due: due.slice(0, limit).map(copy),
        count: pending.length,
        ...(pending.length === 0 ? {} : { oldestCreatedAt: oldest }),
      }
    },

    async take(id, leaseSeconds) {
      const d = live(id)?.delivery
      const t = now()
      if (d?.state !== 'pending' || (d.nextAttemptAt ?? 0) > t || (leases.get(id)?.until ?? 0) > t) return undefined
      const token = `${id}:${++seq}`
      leases.set(id, { token, until: t + leaseSeconds })
      return { ...copy(d), lease: token }
    },

    async settle(delivery) {
      // A former holder's late settle writes nothing: the row may be another's by now.
      if (!held(delivery.id, delivery.lease)) return
      leases.delete(delivery.id)
      const row = live(delivery.id)
      if (row?.delivery.state !== 'pending') return
      row.delivery = stored(delivery)
      if (delivery.state !== 'pending') row.until = now() + KEPT[delivery.state]
    },

    get: async (id) => {
      const d = live(id)?.delivery
      return d && copy(d)
    },

    async list({ app, state, limit = 50, before } = {}) {
      const below = before === undefined ? Number.POSITIVE_INFINITY : (rows.get(before)?.seq ?? 0)
      return [...rows.keys()]
        .map(live)
        .filter((r): r is Row => r !== undefined && r.seq < below)
        .filter(({ delivery: d }) => (app === undefined || d.app === app) && (state === undefined || d.state === state))
        .sort((a, b) => b.seq - a.seq)
        .slice(0, Math.min(Math.max(1, limit), 500))
        .map((r) => copy(r.delivery))
    },

    async retry(id) {
      const row = live(id)
      if (row?.delivery.state !== 'dead') return false
      const t = now()
      const { unsentTries: _, ...rest } = row.delivery
      row.delivery = { ...rest, state: 'pending', attempts: 0, nextAttemptAt: t, retriedAt: t }
      row.until = undefined
      return true
    },

    discard: async (id) => live(id) !== undefined && rows.delete(id),
  }

  const store: SessionStore & ReplayStore & RelayOutboxRevoker = {
    ...sessions,
    relayOutbox: true,
    outbox,
    revoke(target) {
      // The memory store's revoke() has written when it returns: the rows follow in the same turn.
      const result = sessions.revoke(target)
      addDeliveries(target)
      return result
    },
    async claimAndRevoke(key, expiresAt, target) {
      // Nothing can fail between the claim and the revocation in memory: together they are one write.
      if (!(await sessions.claim(key, expiresAt))) return { claimed: false }
      return { claimed: true, ...(await store.revoke(target)) }
    },
  }
  return store
}
