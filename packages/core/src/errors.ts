/**
 * Typed, coded errors. Every failure Backchannel reports is a {@link BackchannelError} with a
 * stable `code`; match on the code (or `instanceof` the subclass), never on the message.
 * Messages name the rule that failed and never contain a token, a secret or a key.
 *
 * Lower-layer errors (jose, openid-client, a storage driver) are wrapped once and kept as `cause`.
 *
 * @example
 * ```ts
 * import { errors } from '@backchannel/core'
 * try {
 *   await verifier.verify(token, app)
 * } catch (err) {
 *   if (err instanceof errors.LogoutTokenExpired) {
 *     // the IdP's clock or queue is late (err.code === 'ERR_LOGOUT_TOKEN_EXPIRED')
 *   }
 *   throw err
 * }
 * ```
 * @module
 */

/** Base class of every error Backchannel throws on purpose. */
export class BackchannelError extends Error {
  /** Stable machine-readable code, e.g. `ERR_LOGOUT_TOKEN_EXPIRED`. */
  static readonly code: string = 'ERR_BACKCHANNEL'
  /** Stable machine-readable code, e.g. `ERR_LOGOUT_TOKEN_EXPIRED`. */
  readonly code: string = (this.constructor as typeof BackchannelError).code

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = this.constructor.name
  }
}

// ── The request ────────────────────────────────────────────────────────────────────────────────

/** The HTTP request is not a form post with exactly one `logout_token` (BCL §2.5). */
export class InvalidRequest extends BackchannelError {
  static override readonly code = 'ERR_REQUEST_INVALID'
}

/** The request body is larger than the accepted maximum. */
export class RequestTooLarge extends BackchannelError {
  static override readonly code = 'ERR_REQUEST_TOO_LARGE'
}

/** The request used a method other than `POST`. */
export class MethodNotAllowed extends BackchannelError {
  static override readonly code = 'ERR_METHOD_NOT_ALLOWED'
}

/** No application is registered under the name in the logout URL. */
export class AppUnknown extends BackchannelError {
  static override readonly code = 'ERR_APP_UNKNOWN'
}

/** Too many failed logout requests from one address or for one application; answers 429. */
export class RateLimited extends BackchannelError {
  static override readonly code = 'ERR_RATE_LIMITED'
  /** Seconds the client should wait before trying again (the `Retry-After` header). */
  readonly retryAfter: number

  constructor(retryAfter: number, options?: { cause?: unknown }) {
    super(`too many failed logout requests; retry after ${retryAfter} s`, options)
    this.retryAfter = retryAfter
  }
}

/** Something failed that no rule explains (a bug, or a revoker that broke its contract); answers 500. */
export class InternalError extends BackchannelError {
  static override readonly code = 'ERR_INTERNAL'
}

/**
 * The application has relays but the revoker cannot store their deliveries with the revocation
 * (a custom `SessionRevoker` without `relayOutbox`): relays need the gateway's store, or a custom
 * `RelayOutboxRevoker`, whose own outbox the gateway then drains. Answers 500.
 */
export class RelaysUnsupported extends BackchannelError {
  static override readonly code = 'ERR_RELAYS_UNSUPPORTED'
}

// ── The logout token (BCL §2.4, §2.6) ─────────────────────────────────────────────────────────

/** Base class of every reason a logout token is refused; all of them answer `400`. Never thrown itself. */
export class LogoutTokenInvalid extends BackchannelError {
  static override readonly code: string = 'ERR_LOGOUT_TOKEN_INVALID'
}

/** Not a compact JWS, or its header or payload is not a JSON object. */
export class LogoutTokenMalformed extends LogoutTokenInvalid {
  static override readonly code = 'ERR_LOGOUT_TOKEN_MALFORMED'
}

/** The signature does not verify with any key the application trusts. */
export class LogoutTokenSignature extends LogoutTokenInvalid {
  static override readonly code = 'ERR_LOGOUT_TOKEN_SIGNATURE'
}

/** The `alg` header is not one the application pins. */
export class LogoutTokenAlg extends LogoutTokenInvalid {
  static override readonly code = 'ERR_LOGOUT_TOKEN_ALG'
}

/** The `typ` header names another kind of token. */
export class LogoutTokenTyp extends LogoutTokenInvalid {
  static override readonly code = 'ERR_LOGOUT_TOKEN_TYP'
}

/** A header that would make the receiver fetch or trust a key (`jku`, `x5u`, `jwk`, `x5c`) or `crit`. */
export class LogoutTokenHeader extends LogoutTokenInvalid {
  static override readonly code = 'ERR_LOGOUT_TOKEN_HEADER'
}

/** `iss` is not the application's issuer. */
export class LogoutTokenIssuer extends LogoutTokenInvalid {
  static override readonly code = 'ERR_LOGOUT_TOKEN_ISSUER'
}

/** `aud` does not name the application, or names audiences it does not trust. */
export class LogoutTokenAudience extends LogoutTokenInvalid {
  static override readonly code = 'ERR_LOGOUT_TOKEN_AUDIENCE'
}

/** `exp` has passed (beyond the clock tolerance), or the token outlived the maximum age. */
export class LogoutTokenExpired extends LogoutTokenInvalid {
  static override readonly code = 'ERR_LOGOUT_TOKEN_EXPIRED'
}

/** `iat` is in the future beyond the clock tolerance. */
export class LogoutTokenIat extends LogoutTokenInvalid {
  static override readonly code = 'ERR_LOGOUT_TOKEN_IAT'
}

/** A claim is missing, has the wrong type, or must not be present; `claim` names it. */
export class LogoutTokenClaim extends LogoutTokenInvalid {
  static override readonly code = 'ERR_LOGOUT_TOKEN_CLAIM'
  /** The claim that broke the rule, e.g. `events`, `nonce` or `sub/sid`. */
  readonly claim: string

  constructor(claim: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.claim = claim
  }
}

// ── Security Event Tokens pushed to a stream (SSF 1.0, RFC 8417, RFC 8935) ────────────────────

/** The `err` values of an RFC 8935 §2.4 error response. */
export type SetErr =
  | 'invalid_request'
  | 'invalid_key'
  | 'invalid_issuer'
  | 'invalid_audience'
  | 'authentication_failed'
  | 'access_denied'

/**
 * Base class of every reason a Security Event Token is refused; all answer `400` with the RFC
 * 8935 `err` the class names ({@link SetInvalid.err}). Never thrown itself.
 */
export class SetInvalid extends BackchannelError {
  static override readonly code: string = 'ERR_SET_INVALID'
  /** The RFC 8935 `err` value this refusal is answered with. */
  static readonly err: SetErr = 'invalid_request'
  /** The RFC 8935 `err` value this refusal is answered with. */
  readonly err: SetErr = (this.constructor as typeof SetInvalid).err
}

/** Not a compact JWS, or its payload is not a JSON object (`invalid_request`). */
export class SetMalformed extends SetInvalid {
  static override readonly code = 'ERR_SET_MALFORMED'
}

/** The `typ` header is not `secevent+jwt` (`invalid_request`). */
export class SetTyp extends SetInvalid {
  static override readonly code = 'ERR_SET_TYP'
}

/** A claim is missing, has the wrong type, or must not be present; `claim` names it (`invalid_request`). */
export class SetClaim extends SetInvalid {
  static override readonly code = 'ERR_SET_CLAIM'
  /** The claim that broke the rule, e.g. `events`, `sub` or `exp`. */
  readonly claim: string

  constructor(claim: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.claim = claim
  }
}

/**
 * The key or algorithm cannot be used: an `alg` other than the stream's, a `kid` not in the
 * transmitter's key set, or a header naming its own key (`jku`, `x5u`, `jwk`, `x5c`) (`invalid_key`).
 */
export class SetKey extends SetInvalid {
  static override readonly code = 'ERR_SET_KEY'
  static override readonly err: SetErr = 'invalid_key'
}

/** The signature does not verify with the transmitter's key (`authentication_failed`). */
export class SetSignature extends SetInvalid {
  static override readonly code = 'ERR_SET_SIGNATURE'
  static override readonly err: SetErr = 'authentication_failed'
}

/** `iss` is not the stream's issuer (`invalid_issuer`). */
export class SetIssuer extends SetInvalid {
  static override readonly code = 'ERR_SET_ISSUER'
  static override readonly err: SetErr = 'invalid_issuer'
}

/** `aud` does not contain the stream's audience (`invalid_audience`). */
export class SetAudience extends SetInvalid {
  static override readonly code = 'ERR_SET_AUDIENCE'
  static override readonly err: SetErr = 'invalid_audience'
}

/** The stream feeds no registered application any more: nothing may act on its events (`access_denied`). */
export class SetAccessDenied extends SetInvalid {
  static override readonly code = 'ERR_SET_ACCESS_DENIED'
  static override readonly err: SetErr = 'access_denied'
}

/** No stream is registered under the name in the push URL. */
export class StreamUnknown extends BackchannelError {
  static override readonly code = 'ERR_STREAM_UNKNOWN'
}

/** The push request's `Authorization` header is missing or not the stream's; answers 401. */
export class StreamUnauthorized extends BackchannelError {
  static override readonly code = 'ERR_STREAM_UNAUTHORIZED'
}

// ── Dependencies that may be down: retry later (503) ──────────────────────────────────────────

/** The issuer's keys could not be fetched, and none are cached, or not yet fetched again. Retryable. */
export class KeysUnavailable extends BackchannelError {
  static override readonly code = 'ERR_KEYS_UNAVAILABLE'
  /** Seconds until the keys may be fetched again, when known (the `Retry-After` header). */
  readonly retryAfter?: number

  constructor(message: string, options?: { cause?: unknown; retryAfter?: number }) {
    super(message, options)
    if (options?.retryAfter !== undefined) this.retryAfter = options.retryAfter
  }
}

/** The session or replay store did not answer. Nothing was acknowledged. Retryable. */
export class StoreUnavailable extends BackchannelError {
  static override readonly code = 'ERR_STORE_UNAVAILABLE'
}

// ── Talking to an issuer (discovery and JWKS fetches) ─────────────────────────────────────────

/** Base class of every reason an issuer (or its `jwks_uri`) was refused or could not be read. Never thrown itself. */
export class IssuerRefused extends BackchannelError {
  static override readonly code: string = 'ERR_ISSUER_REFUSED'
}

/** The issuer is not an absolute URL without query or fragment (OpenID Discovery §2). */
export class IssuerUrlInvalid extends IssuerRefused {
  static override readonly code = 'ERR_ISSUER_URL_INVALID'
}

/** The URL is not `https:` and insecure issuers are not allowed. */
export class IssuerInsecure extends IssuerRefused {
  static override readonly code = 'ERR_ISSUER_INSECURE'
}

/** The host resolves to a loopback, private, link-local or otherwise non-public address. */
export class IssuerAddressForbidden extends IssuerRefused {
  static override readonly code = 'ERR_ISSUER_ADDRESS_FORBIDDEN'
}

/** The issuer answered with a redirect; redirects are never followed. */
export class IssuerRedirect extends IssuerRefused {
  static override readonly code = 'ERR_ISSUER_REDIRECT'
}

/** The response was larger than the size cap. */
export class IssuerResponseTooLarge extends IssuerRefused {
  static override readonly code = 'ERR_ISSUER_RESPONSE_TOO_LARGE'
}

/** The issuer did not answer within the timeout. */
export class IssuerTimeout extends IssuerRefused {
  static override readonly code = 'ERR_ISSUER_TIMEOUT'
}

/** The issuer could not be reached, or answered with an error status. */
export class IssuerUnreachable extends IssuerRefused {
  static override readonly code = 'ERR_ISSUER_UNREACHABLE'
}

/** The discovered `issuer` is not exactly the registered issuer URL. */
export class IssuerMismatch extends IssuerRefused {
  static override readonly code = 'ERR_ISSUER_MISMATCH'
}

/** The discovery document is not valid OpenID Provider metadata (e.g. no `jwks_uri`). */
export class IssuerMetadataInvalid extends IssuerRefused {
  static override readonly code = 'ERR_ISSUER_METADATA_INVALID'
}

// ── Configuration ─────────────────────────────────────────────────────────────────────────────

/** An outbound proxy setting (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`) cannot be used; `variable` names it. */
export class ProxyInvalid extends BackchannelError {
  static override readonly code = 'ERR_PROXY_INVALID'
  /** The environment variable or option that holds the value, e.g. `HTTPS_PROXY`. */
  readonly variable: string
  /** What is wrong with it, without the variable's name (the message starts with the name). */
  readonly reason: string

  constructor(variable: string, reason: string) {
    super(`${variable}: ${reason}`)
    this.variable = variable
    this.reason = reason
  }
}
