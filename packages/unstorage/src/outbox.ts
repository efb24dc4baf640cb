/**
 * The relay outbox. A revocation with relays writes one delivery row per relay in its own write
 * ({@link deliveryWrites}), after naming the rows in the pending index and the listing logs
 * ({@link announceDeliveries}): an id indexed with no row is a write not yet done (or never done,
 * when the logout was a replay), dropped once it is old. Rows are taken by lease (a claim with
 * an expiry), so instances sharing a store never attempt one delivery at the same time; a taker
 * settles only while its lease lasts.
 * @module
 */
import { randomBytes } from 'node:crypto'
import type { RevocationTarget } from '@backchannel/core'
import { DELIVERY_ID, deliveryIdTime, keys } from './_internal/keys.js'
import type { RecordWrite, StoreBackend } from './backend.js'
import type { RelayDelivery, RelayOutbox } from './gateway-store.js'

/** How long finished deliveries are kept, in seconds. */
export interface OutboxRetention {
  /** Delivered rows. Default 7 days. */
  delivered?: number
  /** Dead rows (dead letters, to read and retry). Default 30 days. */
  dead?: number
}

const DAY = 86_400
/** Seconds after which an indexed id with no row is taken for a write that never happened. */
const ORPHAN_SECONDS = 60
/** Entries kept per listing log (per application and overall). */
const LOG_ENTRIES = 100_000
/** The longest a `sign`/`hmac` delivery stays pending (design.md: given up after 24 h). */
const SIGNED_PENDING_SECONDS = DAY

interface StoredDelivery {
  delivery: RelayDelivery
  /** When the row may go, seconds since epoch. */
  until: number
}

// This process, then a counter: ids made here sort in the order they were made, even within one
// millisecond (the logs list them in that order), and never collide with another instance's.
// Made at the first id, not at import: a Cloudflare Worker may not draw random bytes at load.
let instance: string | undefined
let sequence = 0
const nextSuffix = () => {
  instance ??= randomBytes(3).toString('hex').slice(0, 5)
  sequence = (sequence + 1) % 36 ** 5
  return `${instance}${sequence.toString(36).padStart(5, '0')}`
}

/** A lease's owner token: when it ends (seconds since epoch), then this process and a counter. */
const leaseToken = (until: number) => `${until}:${nextSuffix()}`

/** When the lease `token` names ends; `undefined` for no token of {@link leaseToken}'s form. */
function leaseEnd(token: string | undefined): number | undefined {
  const until = Number(token?.slice(0, token.indexOf(':')))
  return token?.includes(':') && Number.isFinite(until) ? until : undefined
}

/** Whether `id` has the form of a delivery id (as `relays.list` shows them). */
export const isDeliveryId = (id: string): boolean => DELIVERY_ID.test(id)

/** The delivery rows a revocation of `target` at `t` relays to (none without `target.relay`). */
export function deliveriesOf(target: RevocationTarget, t: number): RelayDelivery[] {
  const { relay } = target
  if (!relay) return []
  return relay.relays.map((r) => ({
    id: keys.deliveryId(target.app, t, nextSuffix()),
    app: target.app,
    url: r.url,
    mode: r.mode,
    ...(r.clientId === undefined ? {} : { clientId: r.clientId }),
    state: 'pending',
    attempts: 0,
    nextAttemptAt: t,
    createdAt: t,
    logout: {
      iss: target.iss,
      ...(target.sub === undefined ? {} : { sub: target.sub }),
      ...(target.sid === undefined ? {} : { sid: target.sid }),
      ...(r.mode === 'forward' && relay.token !== undefined ? { token: relay.token } : {}),
      ...(r.mode === 'forward' && relay.expiresAt !== undefined ? { expiresAt: relay.expiresAt } : {}),
    },
  }))
}

/** Until when a row is kept: a pending one until it would be given up, plus the dead retention. */
function untilOf(delivery: RelayDelivery, t: number, retention: Required<OutboxRetention>): number {
  if (delivery.state === 'delivered') return t + retention.delivered
  if (delivery.state === 'dead') return t + retention.dead
  const givenUp = Math.max(delivery.createdAt + SIGNED_PENDING_SECONDS, delivery.logout.expiresAt ?? 0, t)
  return givenUp + retention.dead
}

/** Resolves the retention defaults. */
export function outboxRetention(retention: OutboxRetention = {}): Required<OutboxRetention> {
  return { delivered: retention.delivered ?? 7 * DAY, dead: retention.dead ?? 30 * DAY }
}

/** The row writes of `deliveries`, to go in the revocation's own write. */
export function deliveryWrites(
  deliveries: RelayDelivery[],
  t: number,
  retention: Required<OutboxRetention>,
): RecordWrite[] {
  return deliveries.map((delivery) => {
    const until = untilOf(delivery, t, retention)
    const value: StoredDelivery = { delivery, until }
    return { key: keys.delivery(delivery.id) as string, value, expiresAt: until }
  })
}

/**
 * Names the rows in the pending index and the listing logs, before the write that stores them:
 * once that write is acknowledged, every row it holds is findable.
 */
export async function announceDeliveries(
  backend: StoreBackend,
  deliveries: RelayDelivery[],
  t: number,
  retention: Required<OutboxRetention>,
): Promise<void> {
  if (deliveries.length === 0) return
  const logs = deliveries.flatMap(({ id, app }) => {
    const entry = JSON.stringify({ id })
    return [
      { log: keys.relayLog(), id, entry },
      { log: keys.relayLog(app), id, entry },
    ]
  })
  await Promise.all([
    ...deliveries.map((d) => backend.addMember(keys.relayPending, d.id, untilOf(d, t, retention))),
    backend.append(logs, LOG_ENTRIES),
  ])
}

/** The outbox over a backend: what the drainer and `relays.*` read and change. */
export function createOutbox(
  backend: StoreBackend,
  now: () => number,
  retention: Required<OutboxRetention>,
): RelayOutbox {
  const live = (value: unknown, t: number) => {
    const stored = value as StoredDelivery | null
    return stored && stored.until > t ? stored.delivery : undefined
  }
  const read = async (id: string) => {
    const key = keys.delivery(id)
    return key === undefined ? undefined : live((await backend.getMany([key]))[0], now())
  }
  const write = async ({ lease: _, ...delivery }: RelayDelivery, t: number) => {
    await backend.setMany(deliveryWrites([delivery], t, retention), t)
  }
  const isDue = (d: RelayDelivery | undefined, t: number): d is RelayDelivery =>
    d?.state === 'pending' && (d.nextAttemptAt ?? 0) <= t

  const outbox: RelayOutbox = {
    async pending(limit = 100) {
      const t = now()
      const ids = await backend.members(keys.relayPending)
      const rows = ids.length === 0 ? [] : await backend.getMany(ids.map((id) => keys.delivery(id) ?? 'invalid'))
      const pending: RelayDelivery[] = []
      const stale: string[] = []
      for (const [i, id] of ids.entries()) {
        const delivery = live(rows[i], t)
        if (delivery?.state === 'pending') pending.push(delivery)
        // No row yet: its revocation is being written, unless that was long ago (a replay, a
        // failed write, an expired or discarded row). A finished row left in the index goes too.
        else if (delivery || t - deliveryIdTime(id) > ORPHAN_SECONDS || keys.delivery(id) === undefined) stale.push(id)
      }
      if (stale.length > 0) await backend.removeMembers(keys.relayPending, stale)
      const due = pending
        .filter((d) => isDue(d, t))
        .sort((a, b) => (a.nextAttemptAt ?? 0) - (b.nextAttemptAt ?? 0) || a.createdAt - b.createdAt)
        .slice(0, limit)
      const oldest = pending.reduce<number | undefined>(
        (min, d) => Math.min(min ?? d.createdAt, d.createdAt),
        undefined,
      )
      return { due, count: pending.length, ...(oldest === undefined ? {} : { oldestCreatedAt: oldest }) }
    },

    async take(id, leaseSeconds) {
      const t = now()
      if (keys.delivery(id) === undefined) return undefined
      const until = t + leaseSeconds
      if (!(await backend.claim(keys.relayLease(id), until, t))) return undefined
      // Read after the lease: another instance may have settled it since it was listed.
      const delivery = await read(id)
      if (isDue(delivery, now())) return { ...delivery, lease: leaseToken(until) }
      await backend.release(keys.relayLease(id))
      return undefined
    },

    async settle(delivery) {
      // The claim is this taker's alone until the lease's end, by the clock it was claimed with;
      // after that another instance may hold it, and its row and lease are not this attempt's.
      const until = leaseEnd(delivery.lease)
      if (until === undefined || until <= now()) return
      // Discarded, expired or its app deleted while the attempt ran: writing would bring it back.
      const current = await read(delivery.id)
      if (current?.state === 'pending') {
        await write(delivery, now())
        if (delivery.state !== 'pending') await backend.removeMembers(keys.relayPending, [delivery.id])
      }
      await backend.release(keys.relayLease(delivery.id))
    },

    get: read,

    async list({ app, state, limit = 50, before } = {}) {
      const want = Math.min(Math.max(1, limit), 500)
      const found: RelayDelivery[] = []
      let cursor = before
      // Pages of ids, newest first, until `want` rows match; a state filter may skip many.
      for (let page = 0; page < 20 && found.length < want; page++) {
        const entries = await backend.read(keys.relayLog(app), want * 2, cursor)
        if (entries.length === 0) break
        const ids = entries.map((e) => (JSON.parse(e) as { id: string }).id)
        cursor = ids.at(-1)
        const t = now()
        const rows = await backend.getMany(ids.map((id) => keys.delivery(id) ?? 'invalid'))
        for (const [i] of ids.entries()) {
          const delivery = live(rows[i], t)
          if (delivery && (state === undefined || delivery.state === state)) found.push(delivery)
          if (found.length === want) break
        }
      }
      return found
    },

    async retry(id) {
      const delivery = await read(id)
      if (!delivery || delivery.state === 'delivered') return false
      const t = now()
      if (delivery.state === 'pending') {
        // Nothing to retry; indexed again, since a crash between the two writes below leaves it out.
        await backend.addMember(keys.relayPending, id, untilOf(delivery, t, retention))
        return false
      }
      // A fresh budget: attempts, unsent tries and the give-up age count from the retry.
      const { unsentTries: _, ...rest } = delivery
      const retried: RelayDelivery = { ...rest, state: 'pending', attempts: 0, nextAttemptAt: t, retriedAt: t }
      // The row first: a drainer that meets the id in the index with its row still dead drops the id.
      await write(retried, t)
      await backend.addMember(keys.relayPending, id, untilOf(retried, t, retention))
      return true
    },

    async discard(id) {
      const key = keys.delivery(id)
      if (key === undefined || !(await read(id))) return false
      await backend.storage.removeItem(key)
      await backend.removeMembers(keys.relayPending, [id])
      return true
    },
  }
  return outbox
}
