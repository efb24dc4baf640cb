/**
 * The relay outbox contract: what a revoker that stores relay deliveries offers the gateway's
 * drainer and `relays.*`. `@backchannel/unstorage`'s stores implement it; a custom revoker can
 * too, and `relayOutboxCases` of `@backchannel/core/testing` tells it whether it does. Types only.
 * @module
 */
import type { RelayMode } from './app.js'
import type { SessionRevoker } from './session.js'

/** Where one delivery stands. */
export type RelayDeliveryState = 'pending' | 'delivered' | 'dead'

/** One (logout, relay) pair of the outbox and what became of it. Times are seconds since epoch. */
export interface RelayDelivery {
  id: string
  app: string
  url: string
  mode: RelayMode
  clientId?: string
  state: RelayDeliveryState
  attempts: number
  /**
   * Tries since the last attempt that sent nothing: the token could not be minted, or the
   * application not read. They spend no attempt, but the next try backs off as if they had.
   */
  unsentTries?: number
  /**
   * Only on the row {@link RelayOutbox.take} returns: its lease's owner token, which
   * {@link RelayOutbox.settle} checks. Never stored.
   */
  lease?: string
  /** HTTP status of the last attempt, when it got one. */
  lastStatus?: number
  lastError?: string
  nextAttemptAt?: number
  createdAt: number
  /** When `relays.retry` last gave it a fresh budget (attempts and age count from then). */
  retriedAt?: number
  deliveredAt?: number
  /** What is relayed. */
  logout: {
    iss: string
    sub?: string
    sid?: string
    /** `forward` only: the identity provider's logout token, byte for byte. */
    token?: string
    /** `forward` only: the token's `exp`; the delivery gives up once it has passed. */
    expiresAt?: number
  }
}

/** What {@link RelayOutbox.list} selects. */
export interface RelayListQuery {
  app?: string
  state?: RelayDeliveryState
  /** Default 50, at most 500. */
  limit?: number
  /** A delivery id: only older deliveries (the next page). */
  before?: string
}

/** The pending deliveries as the drainer sees them. Times are seconds since epoch. */
export interface PendingDeliveries {
  /** Deliveries due by now, soonest due first. */
  due: RelayDelivery[]
  /** Every pending delivery, due or not. */
  count: number
  /** The `createdAt` of the oldest pending delivery. */
  oldestCreatedAt?: number
}

/**
 * The outbox of relay deliveries. Revocations write its rows (in their own write); instances
 * sharing a store take rows by lease, so each delivery is attempted by one instance at a time.
 * Delivered rows are kept 7 days and dead ones 30 days (by default).
 */
export interface RelayOutbox {
  /** Pending deliveries: up to `limit` due now (default 100), and how many are pending in all. */
  pending(limit?: number): Promise<PendingDeliveries>
  /**
   * Takes a due delivery for `leaseSeconds`: the row as stored with its lease token in `lease`, or
   * `undefined` when another taker holds it or it is no longer due. Of concurrent takes, one at
   * most gets the row. Give it back with {@link RelayOutbox.settle}.
   */
  take(id: string, leaseSeconds: number): Promise<RelayDelivery | undefined>
  /**
   * Stores a taken delivery's new state (`delivered` and `dead` leave the pending index) and gives
   * back its lease, while `delivery.lease` is a lease still held. Writes nothing, and releases no
   * one else's lease, when that lease has expired (another instance may have taken the row since:
   * the late attempt's outcome is dropped and the delivery tried again), or when the row is gone
   * or no longer pending (discarded, its app deleted).
   */
  settle(delivery: RelayDelivery): Promise<void>
  get(id: string): Promise<RelayDelivery | undefined>
  /** Newest first. */
  list(query?: RelayListQuery): Promise<RelayDelivery[]>
  /**
   * A `dead` delivery becomes pending, due now, with a fresh budget (attempts, unsent tries and
   * age count from now). `false` for any other (a pending one is only indexed again, should a
   * crash have left it out).
   */
  retry(id: string): Promise<boolean>
  /** Removes a delivery whatever its state; `false` when there was none. */
  discard(id: string): Promise<boolean>
}

/**
 * A revoker that stores relay deliveries: `revoke` (and `claimAndRevoke`, when it has one) writes
 * one {@link RelayDelivery} per `target.relay.relays` entry in the same write as the revocation
 * (or, where the store cannot write both at once, before it: a revocation is never stored
 * without its deliveries), and {@link RelayOutbox} hands them to the drainer.
 *
 * @example
 * ```ts
 * import type { RelayOutboxRevoker } from '@backchannel/core'
 * const revoker: RelayOutboxRevoker = { relayOutbox: true, outbox: sqlOutbox, revoke: sqlRevoke }
 * ```
 */
export interface RelayOutboxRevoker extends SessionRevoker {
  readonly relayOutbox: true
  readonly outbox: RelayOutbox
}
