/**
 * `@backchannel/core`: verify OpenID Connect back-channel logout tokens and drive a session
 * revoker, with no HTTP framework and no storage inside.
 *
 * Follow one logout: `flow.ts` (form body → outcome) → `verify.ts` (header, signature) →
 * `claims.ts` (claim rules) → your {@link SessionRevoker}; `outcome.ts` picks the HTTP status from
 * one table, for every route of the gateway. The Shared Signals receiver follows the same path:
 * `ssf-flow.ts` (push request or polled SET → outcome) → `set.ts` (a SET's rules) → `ssf-event.ts`
 * (what an event ends) → the same revoker; `ssf-stream-event.ts` reads the events about the stream itself. Errors are classes in the {@link errors} namespace; `./mint` signs HMAC
 * logout tokens, `./discovery` reads an issuer (and a transmitter), `./testing` proves a store.
 * @module
 */

export type { IssuerFetchPolicy } from './_internal/issuer-fetch.js'
export type { OutboundProxy } from './_internal/proxy-settings.js'
export { proxyFromEnv } from './_internal/proxy-settings.js'
export type {
  AppConfig,
  AppRegistry,
  AsymmetricAlgorithm,
  HmacAlgorithm,
  HmacApp,
  HmacSecret,
  LogoutPolicy,
  LogoutScope,
  OidcApp,
  Relay,
  RelayMode,
  ResolvedPolicy,
} from './app.js'
export { ASYMMETRIC_ALGORITHMS, HMAC_ALGORITHMS, resolvePolicy, sessionIssuer } from './app.js'
export type { LogoutToken } from './claims.js'
export { BACKCHANNEL_LOGOUT_EVENT } from './claims.js'
export type { BackchannelErrorCode } from './error-code.js'
export type { SetErr } from './errors.js'
/**
 * Every error class, one per code: `errors.LogoutTokenExpired`, `errors.StoreUnavailable`, …
 * Also holds `errors.BackchannelError`, the base class.
 */
export * as errors from './errors.js'
// The base class is also top-level: it is what `catch` blocks test and what other packages
// extend (e.g. the server's `ConfigError`), so it should not need the namespace.
export { BackchannelError } from './errors.js'
export type { LogoutFlowDependencies, LogoutHandlerOptions, LogoutRequest } from './flow.js'
export { createLogoutHandler, MAX_BODY_BYTES, processLogout, processLogoutRequest, readBody } from './flow.js'
export { guardStore } from './guard-store.js'
export type { KeyResolver, KeyResolverOptions } from './keys.js'
export { createKeyResolver } from './keys.js'
export type { ErrorStatus, LogoutErrorBody, LogoutOutcome } from './outcome.js'
export { errorStatus, failure, toResponse } from './outcome.js'
export type {
  PendingDeliveries,
  RelayDelivery,
  RelayDeliveryState,
  RelayListQuery,
  RelayOutbox,
  RelayOutboxRevoker,
} from './relay-outbox.js'
export type { ReplayStore } from './replay.js'
export { replayKey } from './replay.js'
export type {
  ClaimedRevocation,
  RelayRequest,
  RevocationTarget,
  SessionInput,
  SessionRecord,
  SessionRegistry,
  SessionRevoker,
  SessionState,
  SessionStore,
} from './session.js'
export {
  DEFAULT_RETENTION,
  DEFAULT_SESSION_TTL,
  defineRevoker,
  isSubjectWide,
  normalizeEmail,
  RELAY_ONCE_SECONDS,
  relayOnce,
  relayRequest,
} from './session.js'
export type { SecurityEvent, SetVerifier, StreamConfig } from './set.js'
export { createSetVerifier } from './set.js'
export type { EventPolicy, SsfAction } from './ssf-event.js'
export { interpretEvent, SESSION_EVENTS } from './ssf-event.js'
export type { SsfFlowDependencies, SsfOutcome, SsfResult } from './ssf-flow.js'
export {
  MAX_SET_BYTES,
  processSecurityEvent,
  processSecurityEventRequest,
  SET_REPLAY_SECONDS,
  ssfFailure,
  ssfResponse,
} from './ssf-flow.js'
export type { StreamEvent, StreamEventRecorder, StreamStatus, UnreadableStreamEvent } from './ssf-stream-event.js'
export { readStreamEvent, STREAM_EVENTS } from './ssf-stream-event.js'
export type { LogoutVerifier, LogoutVerifierOptions, VerifyOptions } from './verify.js'
export { createLogoutVerifier } from './verify.js'
