/**
 * `@backchannel/core`: verify OpenID Connect back-channel logout tokens and drive a session
 * revoker, with no HTTP framework and no storage inside.
 *
 * Follow one logout: `flow.ts` (form body → outcome) → `verify.ts` (header, signature) →
 * `claims.ts` (claim rules) → your {@link SessionRevoker}; `outcome.ts` picks the HTTP status.
 * @module
 */

export type { IssuerFetchPolicy } from './_internal/guarded-fetch.js'
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
  ResolvedPolicy,
} from './app.js'
export { ASYMMETRIC_ALGORITHMS, HMAC_ALGORITHMS, resolvePolicy, sessionIssuer } from './app.js'
export type { LogoutToken } from './claims.js'
export { BACKCHANNEL_LOGOUT_EVENT } from './claims.js'
export {
  AppUnknown,
  BackchannelError,
  InternalError,
  InvalidRequest,
  IssuerAddressForbidden,
  IssuerInsecure,
  IssuerMetadataInvalid,
  IssuerMismatch,
  IssuerRedirect,
  IssuerRefused,
  IssuerResponseTooLarge,
  IssuerTimeout,
  IssuerUnreachable,
  IssuerUrlInvalid,
  KeysUnavailable,
  LogoutTokenAlg,
  LogoutTokenAudience,
  LogoutTokenClaim,
  LogoutTokenExpired,
  LogoutTokenHeader,
  LogoutTokenIat,
  LogoutTokenInvalid,
  LogoutTokenIssuer,
  LogoutTokenMalformed,
  LogoutTokenSignature,
  LogoutTokenTyp,
  MethodNotAllowed,
  RequestTooLarge,
  StoreUnavailable,
} from './errors.js'
export type { LogoutFlowDependencies, LogoutHandlerOptions, LogoutRequest } from './flow.js'
export { createLogoutHandler, MAX_BODY_BYTES, processLogout, processLogoutRequest, readBody } from './flow.js'
export { guardStore } from './guard-store.js'
export type { KeyResolver, KeyResolverOptions } from './keys.js'
export { createKeyResolver } from './keys.js'
export type { LogoutErrorBody, LogoutOutcome } from './outcome.js'
export { RETRY_AFTER_SECONDS, STATUS_BY_CODE, statusOf, toResponse } from './outcome.js'
export type {
  AppRecord,
  AppStore,
  AuditInput,
  AuditLog,
  AuditOutcome,
  AuditRecord,
  GatewayStore,
  SettingsStore,
} from './registry.js'
export type { ReplayStore } from './replay.js'
export { replayKey } from './replay.js'
export type {
  ClaimedRevocation,
  RevocationTarget,
  SessionInput,
  SessionRecord,
  SessionRegistry,
  SessionRevoker,
  SessionState,
  SessionStore,
} from './session.js'
export { DEFAULT_RETENTION, DEFAULT_SESSION_TTL, defineRevoker, isSubjectWide } from './session.js'
export type { LogoutVerifier, LogoutVerifierOptions, VerifyOptions } from './verify.js'
export { createLogoutVerifier } from './verify.js'
