/**
 * `@backchannel/unstorage`: everything the Backchannel gateway keeps — sessions and revocations,
 * replay claims, applications and the audit log — over unstorage. Pick a preset:
 * `@backchannel/unstorage/memory`, `/fs` (embedded default), `/redis`, `/mongodb`, `/postgres`;
 * or pass any unstorage `Storage` to {@link createStore} (one process). Also the
 * contracts of that store ({@link GatewayStore} and its parts), which admin and server program against.
 * @module
 */
export type { DumpEntry, IndexRead, StoreBackend } from './backend.js'
export { ttlSeconds } from './backend.js'
export type { DumpSummary, ExportOptions, ImportOptions } from './dump.js'
export {
  DUMP_FORMAT,
  DumpInvalid,
  DumpKeyMismatch,
  ImportIncomplete,
  ImportTargetNotEmpty,
  keyFingerprint,
  MAX_LINE_BYTES,
} from './dump.js'
export type {
  AppRecord,
  AppStore,
  AuditInput,
  AuditLog,
  AuditOutcome,
  AuditRecord,
  ConsoleSession,
  ConsoleSessionStore,
  GatewayStore,
  PendingDeliveries,
  Relay,
  RelayAttemptResult,
  RelayDelivery,
  RelayDeliveryState,
  RelayListQuery,
  RelayMode,
  RelayOutbox,
  SettingsStore,
  SigningKey,
  SigningKeyStore,
  StreamRecord,
  StreamState,
  StreamStore,
  StreamVerification,
} from './gateway-store.js'
export type { OutboxRetention } from './outbox.js'
export { isDeliveryId } from './outbox.js'
export type { SessionOptions } from './sessions.js'
export type { BackchannelStore, StorageStoreOptions, StoreOptions } from './store.js'
export { createStore } from './store.js'
