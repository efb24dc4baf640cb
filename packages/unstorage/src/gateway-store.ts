/**
 * The contracts of what a gateway keeps besides sessions: the application registry, the audit
 * log and a few settings. They live beside their implementation (`apps.ts`, `audit.ts`,
 * `store.ts`); `@backchannel/admin` and `@backchannel/server` import them as types. Core knows
 * none of them: it needs only an `AppRegistry`, a `SessionRevoker` and a `ReplayStore`.
 * @module
 */
import type { JsonWebKey } from 'node:crypto'
import type {
  AppConfig,
  AppRegistry,
  Relay,
  RelayMode,
  ReplayStore,
  SessionStore,
  StreamConfig,
} from '@backchannel/core'

// Defined in core, which carries an application's relays to the revocation; named here too, beside
// the rest of the relay contract.
export type { Relay, RelayMode }

/** An application as the gateway keeps it: its verification config plus bookkeeping. */
export type AppRecord = AppConfig & {
  /** SHA-256 of the application's API key (hex); the key itself is never stored. */
  apiKeyHash: string
  /** Seconds since epoch. */
  createdAt: number
  /** Seconds since epoch. */
  updatedAt: number
  /** The secret of each `hmac` relay, by its URL (decrypted here, sealed at rest). */
  relaySecrets?: Readonly<Record<string, string>>
}

/** The registry of applications. */
export interface AppStore extends AppRegistry {
  /** The application, secrets decrypted; `undefined` if none is registered under `name`. */
  get(name: string): Promise<AppRecord | undefined>
  /** Every application, by name. */
  list(): Promise<AppRecord[]>
  /** Registers a new application; `false` (and nothing written) if the name is taken. */
  create(app: AppRecord): Promise<boolean>
  /** Replaces an existing application's record. */
  update(app: AppRecord): Promise<void>
  /** Removes the application, its sessions, markers and indexes; `false` if it did not exist. */
  delete(name: string): Promise<boolean>
  /** The name of the application whose API key hashes to `apiKeyHash`. */
  findByApiKeyHash(apiKeyHash: string): Promise<string | undefined>
}

/** A Shared Signals stream as the gateway keeps it (`streams.create`). Times are seconds since epoch. */
export interface StreamRecord extends StreamConfig {
  /** How events arrive: pushed to `/ssf/:stream` (RFC 8935). */
  delivery: 'push'
  /** The transmitter's id of the stream, when known. */
  streamId?: string
  createdAt: number
  updatedAt: number
}

/** The registry of Shared Signals streams. */
export interface StreamStore {
  /** The stream; `undefined` if none is registered under `name`. */
  get(name: string): Promise<StreamRecord | undefined>
  /** Every stream, by name. */
  list(): Promise<StreamRecord[]>
  /** Registers a new stream; `false` (and nothing written) if the name is taken. */
  create(stream: StreamRecord): Promise<boolean>
  /** Removes the stream; `false` if it did not exist. */
  delete(name: string): Promise<boolean>
}

/**
 * What happened: to a logout attempt (`revoked`, `replayed`, `rejected`, `failed`); for an admin
 * action, `applied` (it took effect; `sessions.revoke` says `revoked`, as a logout would); to one
 * relay delivery attempt (`source: "relay"`), `delivered`, `retry` or `dead`; to a Shared Signals
 * event (`source: "ssf"`), also `ignored` (it asks nothing of sessions) or `unmatched` (no session matched).
 */
export type AuditOutcome =
  | 'revoked'
  | 'replayed'
  | 'rejected'
  | 'failed'
  | 'applied'
  | 'delivered'
  | 'retry'
  | 'dead'
  | 'ignored'
  | 'unmatched'

/**
 * One audit record: a logout attempt (`source: "backchannel"`), an admin action (`source:
 * "admin"`, with `action` and `actor`) or a relay delivery attempt (`source: "relay"`). Never a
 * secret, token or key.
 */
export interface AuditRecord {
  /** Sortable id; pass it as `before` to read the next page. */
  id: string
  /** Seconds since epoch. */
  at: number
  /** The application concerned; absent for an action on the gateway itself (e.g. its signing keys). */
  app?: string
  source: 'backchannel' | 'admin' | 'relay' | 'ssf'
  /** `source: "ssf"`: the stream the event came on, and the event's short name (`session-revoked`, `other`). */
  stream?: string
  event?: string
  /** The admin action: the API procedure that made it, e.g. `apps.create`. */
  action?: string
  /** Who made an admin action: `admin` (the admin token) or `owner:<app>` (that application's API key). */
  actor?: string
  /** The input fields an admin action set, by name (`policy.maxTokenAge`), never their values. */
  fields?: string[]
  outcome: AuditOutcome
  /** The error code of a rejected or failed attempt. */
  code?: string
  iss?: string
  sid?: string
  /** Keyed hash of the `sub` (see {@link AuditLog.hashSub}). */
  subHash?: string
  /** Sessions this logout ended. */
  revoked?: number
  /** `source: "relay"`: the delivery, its relay's URL, its attempts so far and the relay's HTTP status. */
  delivery?: string
  url?: string
  attempts?: number
  status?: number
}

/** An attempt to record; `sub` is hashed before it is stored. */
export type AuditInput = Omit<AuditRecord, 'id' | 'at' | 'subHash'> & { at?: number; sub?: string }

/** The audit log. */
export interface AuditLog {
  record(entry: AuditInput): Promise<AuditRecord>
  /** Newest first; `limit` default 50, at most 500. */
  list(query?: { app?: string; limit?: number; before?: string }): Promise<AuditRecord[]>
  /** The keyed hash stored for a `sub`, to find a user's records. */
  hashSub(sub: string): string
}

/** Small named values shared by every gateway instance (e.g. the admin token's hash). */
export interface SettingsStore {
  get(name: string): Promise<string | undefined>
  /** Stores `value` unless the setting exists; `true` when this call stored it. */
  setIfAbsent(name: string, value: string): Promise<boolean>
}

/** One of the gateway's own signing keys, as {@link SigningKeyStore.list} gives it. Times are seconds since epoch. */
export interface SigningKey {
  /** RFC 7638 thumbprint of the public key. */
  kid: string
  alg: 'ES256'
  createdAt: number
  /** `current` signs; a `retiring` key is still published until `retiresAt`. */
  state: 'current' | 'retiring'
  retiresAt?: number
  /** The public part (`kty`, `crv`, `x`, `y`), as published. */
  publicJwk: JsonWebKey
  /** The private part, opened with the master key. Never leaves the gateway. */
  privateJwk: JsonWebKey
}

/** The gateway's signing keys (ES256), private parts sealed under the master key. */
export interface SigningKeyStore {
  /** The published keys, newest first: the current one, then those still in their grace. */
  list(): Promise<SigningKey[]>
  /** As {@link list}, generating the first key when there is none: exactly one, however many instances ask at once. */
  ensure(): Promise<SigningKey[]>
  /** Adds a new current key; the older ones stay published for `graceSeconds`. Returns its `kid`. */
  rotate(graceSeconds: number): Promise<string>
}

/** A signed-in session of the admin console. Times are seconds since epoch. */
export interface ConsoleSession {
  /** Who signed in: the admin token. */
  role: 'admin'
  /** The token every form of this session carries (cross-site request protection). */
  csrfToken: string
  createdAt: number
  /** When the session ends, however active it is (a fixed lifetime). */
  expiresAt: number
}

/** The admin console's sessions, by the SHA-256 (hex) of their id; the id itself is never stored. */
export interface ConsoleSessionStore {
  /** Stores a session until its `expiresAt`. */
  create(idHash: string, session: ConsoleSession): Promise<void>
  /** The session, or `undefined` when there is none or it has expired. */
  get(idHash: string): Promise<ConsoleSession | undefined>
  /** Ends a session (signing out); nothing when there is none. */
  delete(idHash: string): Promise<void>
}

/** Everything a gateway keeps, in one store. */
export interface GatewayStore extends SessionStore, ReplayStore {
  apps: AppStore
  /** The Shared Signals streams (`streams.*`, `/ssf/:stream`). */
  streams: StreamStore
  audit: AuditLog
  settings: SettingsStore
  /** The gateway's own signing keys (relays in `sign` mode, `/.well-known/jwks.json`). */
  keys: SigningKeyStore
  /** The relay outbox: the deliveries revocations wrote, for the drainer and `relays.*`. */
  outbox: RelayOutbox
  /** The admin console's sign-in sessions. */
  consoleSessions: ConsoleSessionStore
  /** Throws `ERR_STORE_UNAVAILABLE` when the backend cannot be reached. */
  ping(): Promise<void>
  /** Closes connections and timers. */
  close(): Promise<void>
}

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

/** What one delivery attempt came to. `retryAfter` is seconds, from the relay's `Retry-After`. */
export type RelayAttemptResult =
  | { outcome: 'delivered'; status: number }
  | { outcome: 'retry'; status?: number; error: string; retryAfter?: number }
  | { outcome: 'dead'; status?: number; error: string }

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
