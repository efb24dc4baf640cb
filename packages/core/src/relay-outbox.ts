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
   * Tries since the last attempt at which the gateway could not mint the token (`sign`, `hmac`):
   * nothing was sent, so they are not attempts, but the next try backs off as if they were.
   */
  mintFailures?: number
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
   * Takes a due delivery for `leaseSeconds`: the row as stored, or `undefined` when another
   * instance holds it or it is no longer due. Give it back with {@link RelayOutbox.settle}.
   */
  take(id: string, leaseSeconds: number): Promise<RelayDelivery | undefined>
  /**
   * Stores a taken delivery's new state (`delivered` and `dead` leave the pending index) and gives
   * back its lease; writes nothing when the row is gone or no longer pending (discarded, its app
   * deleted, or settled by another instance meanwhile).
   */
  settle(delivery: RelayDelivery): Promise<void>
  get(id: string): Promise<RelayDelivery | undefined>
  /** Newest first. */
  list(query?: RelayListQuery): Promise<RelayDelivery[]>
  /**
   * A `dead` delivery becomes pending, due now, with a fresh budget (attempts and age count from
   * now). `false` for any other (a pending one is only indexed again, should a crash have left it out).
   */
  retry(id: string): Promise<boolean>
  /** Removes a delivery whatever its state; `false` when there was none. */
  discard(id: string): Promise<boolean>
}

/**
 * A revoker that stores relay deliveries: `revoke` (and `claimAndRevoke`, when it has one) writes
 * one {@link RelayDelivery} per `target.relay.relays` entry in the same write as the revocation,
 * and {@link RelayOutbox} hands them to the drainer.
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
