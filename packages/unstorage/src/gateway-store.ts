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
  PendingDeliveries,
  Relay,
  RelayDelivery,
  RelayDeliveryState,
  RelayListQuery,
  RelayMode,
  RelayOutbox,
  RelayOutboxRevoker,
  ReplayStore,
  SessionStore,
  StreamConfig,
  StreamEventRecorder,
  StreamStatus,
} from '@backchannel/core'

// Defined in core (the relays a revocation carries, and the outbox contract a custom revoker can
// implement and prove with core's suite); named here too, beside the rest of what a gateway keeps.
export type { PendingDeliveries, Relay, RelayDelivery, RelayDeliveryState, RelayListQuery, RelayMode, RelayOutbox }

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
  /** How events arrive: pushed to `/ssf/:stream` (RFC 8935), or polled by the gateway (RFC 8936). */
  delivery: 'push' | 'poll'
  /** The transmitter's id of the stream, when known. */
  streamId?: string
  /** `poll`: where the gateway polls (the stream configuration's transmitter-supplied `delivery.endpoint_url`). */
  pollEndpointUrl?: string
  /** `poll`: the bearer token the gateway polls with (decrypted here, sealed at rest). */
  pollToken?: string
  createdAt: number
  updatedAt: number
}

/** A stream's last verification request (`streams.verify`) and when its event came back. Seconds since epoch. */
export interface StreamVerification {
  state: string
  requestedAt: number
  verifiedAt?: number
}

/**
 * Where a stream stands, as its events said: kept apart from its {@link StreamRecord}, so that
 * recording an event never rewrites (or races with a change to) its configuration.
 */
export interface StreamState {
  /** As the last `stream-updated` event said; `enabled` until one says otherwise. */
  status: StreamStatus
  /** The transmitter's reason for that status, when it gave one. */
  statusReason?: string
  /** When the last verified event arrived, seconds since epoch (written at most once a second per stream). */
  lastEventAt?: number
  lastVerification?: StreamVerification
}

/** The registry of Shared Signals streams. */
export interface StreamStore extends StreamEventRecorder {
  /** The stream; `undefined` if none is registered under `name`. */
  get(name: string): Promise<StreamRecord | undefined>
  /** Every stream, by name. */
  list(): Promise<StreamRecord[]>
  /** Registers a new stream; `false` (and nothing written) if the name is taken. */
  create(stream: StreamRecord): Promise<boolean>
  /** Replaces an existing stream's record (`streams.connect`). */
  update(stream: StreamRecord): Promise<void>
  /**
   * Removes the stream and its state; `false` if it did not exist. Its name is freed either way
   * (a creation that stopped midway holds it with no record).
   */
  delete(name: string): Promise<boolean>
  /** The stream's state (status, last event, last verification). */
  state(name: string): Promise<StreamState>
  /** Records a verification request: its event, carrying `state`, marks it verified. */
  requestVerification(name: string, verification: StreamVerification): Promise<void>
  /** Records that a verified event arrived at `at`, seconds since epoch (nothing for a stream that is gone). */
  touch(name: string, at: number): Promise<void>
  /**
   * Takes the poll lease of a stream for the term `term` until `expiresAt` (seconds since epoch):
   * `true` for exactly one caller across every instance sharing the store.
   */
  lease(name: string, term: number, expiresAt: number): Promise<boolean>
  /** Gives the lease of a term back (a stopping instance), so that another takes it at once. */
  releaseLease(name: string, term: number): Promise<void>
}

/**
 * What happened: to a logout attempt (`revoked`, `replayed`, `rejected`, `failed`); for an admin
 * action, `applied` (it took effect; `sessions.revoke` says `revoked`, as a logout would); to one
 * relay delivery attempt (`source: "relay"`), `delivered`, `retry` or `dead`; to a Shared Signals
 * event (`source: "ssf"`), also `ignored` (it asks nothing of sessions) or `unmatched` (no session
 * matched), and `applied` for a verification or `stream-updated` event recorded on its stream.
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
  /** `source: "ssf"`, outcome `ignored`: why the event ended no session. */
  reason?: string
  /** `source: "ssf"`, outcome `rejected`: the RFC 8935 `err` the SET was refused with (`invalid_key`, …). */
  err?: string
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
export type ConsoleSession = {
  /** The token every form of this session carries (cross-site request protection). */
  csrfToken: string
  createdAt: number
  /** When the session ends, however active it is (a fixed lifetime). */
  expiresAt: number
} & (
  | {
      /** Signed in with the admin token. */
      role: 'admin'
    }
  | {
      /** Signed in with an application's API key: its owner, in its tenant space. */
      role: 'owner'
      app: string
      /**
       * SHA-256 (hex) of the API key it signed in with: once the application's key is another
       * (rotated), the session is over.
       */
      apiKeyHash: string
    }
)

/** The admin console's sessions, by the SHA-256 (hex) of their id; the id itself is never stored. */
export interface ConsoleSessionStore {
  /** Stores a session until its `expiresAt`. */
  create(idHash: string, session: ConsoleSession): Promise<void>
  /** The session, or `undefined` when there is none or it has expired. */
  get(idHash: string): Promise<ConsoleSession | undefined>
  /** Ends a session (signing out); nothing when there is none. */
  delete(idHash: string): Promise<void>
}

/** Everything a gateway keeps, in one store; its sessions and relay outbox meet core's contracts. */
export interface GatewayStore extends SessionStore, ReplayStore, RelayOutboxRevoker {
  /** Every revocation writes its relay deliveries in its own write (see {@link RelayOutboxRevoker}). */
  readonly relayOutbox: true
  apps: AppStore
  /** The Shared Signals streams (`streams.*`, `/ssf/:stream`). */
  streams: StreamStore
  audit: AuditLog
  settings: SettingsStore
  /** The gateway's own signing keys (relays in `sign` mode, `/.well-known/jwks.json`). */
  keys: SigningKeyStore
  /** The relay outbox: the deliveries revocations wrote, for the drainer and `relays.*`. */
  readonly outbox: RelayOutbox
  /** The admin console's sign-in sessions. */
  readonly consoleSessions: ConsoleSessionStore
  /** Throws `ERR_STORE_UNAVAILABLE` when the backend cannot be reached. */
  ping(): Promise<void>
  /** Closes connections and timers. */
  close(): Promise<void>
}

/**
 * What one delivery attempt came to. `retryAfter` is seconds, from the relay's `Retry-After`.
 * `sent: false`: nothing was sent (the token could not be minted, or can never be), so it is no attempt.
 */
export type RelayAttemptResult =
  | { outcome: 'delivered'; status: number }
  | { outcome: 'retry'; status?: number; error: string; retryAfter?: number; sent?: false }
  | { outcome: 'dead'; status?: number; error: string; sent?: false }
