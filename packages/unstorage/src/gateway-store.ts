/**
 * The contracts of what a gateway keeps besides sessions: the application registry, the audit
 * log and a few settings. They live beside their implementation (`apps.ts`, `audit.ts`,
 * `store.ts`); `@backchannel/admin` and `@backchannel/server` import them as types. Core knows
 * none of them: it needs only an `AppRegistry`, a `SessionRevoker` and a `ReplayStore`.
 * @module
 */
import type { JsonWebKey } from 'node:crypto'
import type { AppConfig, AppRegistry, ReplayStore, SessionStore } from '@backchannel/core'

/** An application as the gateway keeps it: its verification config plus bookkeeping. */
export type AppRecord = AppConfig & {
  /** SHA-256 of the application's API key (hex); the key itself is never stored. */
  apiKeyHash: string
  /** Seconds since epoch. */
  createdAt: number
  /** Seconds since epoch. */
  updatedAt: number
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

/**
 * What happened: to a logout attempt (`revoked`, `replayed`, `rejected`, `failed`), or, for an
 * admin action, `applied` (it took effect; `sessions.revoke` says `revoked`, as a logout would).
 */
export type AuditOutcome = 'revoked' | 'replayed' | 'rejected' | 'failed' | 'applied'

/**
 * One audit record: a logout attempt (`source: "backchannel"`) or an admin action
 * (`source: "admin"`, with `action` and `actor`). Never a secret, token or key.
 */
export interface AuditRecord {
  /** Sortable id; pass it as `before` to read the next page. */
  id: string
  /** Seconds since epoch. */
  at: number
  /** The application concerned; absent for an action on the gateway itself (e.g. its signing keys). */
  app?: string
  source: 'backchannel' | 'admin'
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

/** Everything a gateway keeps, in one store. */
export interface GatewayStore extends SessionStore, ReplayStore {
  apps: AppStore
  audit: AuditLog
  settings: SettingsStore
  /** The gateway's own signing keys (relays in `sign` mode, `/.well-known/jwks.json`). */
  keys: SigningKeyStore
  /** Throws `ERR_STORE_UNAVAILABLE` when the backend cannot be reached. */
  ping(): Promise<void>
  /** Closes connections and timers. */
  close(): Promise<void>
}

/** How a relay receives a logout (design.md, "Relays"). */
export type RelayMode = 'forward' | 'sign' | 'hmac'

/** One service or replica an application's logouts are relayed to. */
export interface Relay {
  /** Where the logout token is POSTed (`https:` and a public address unless insecure issuers are allowed). */
  url: string
  mode: RelayMode
  /** The `aud` of tokens the gateway signs for this relay; required for `sign`. */
  clientId?: string
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
