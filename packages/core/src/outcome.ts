/**
 * Where an HTTP status is chosen: one table from error code to status, and the JSON error body
 * of BCL §2.8. Every framework sends what {@link LogoutOutcome} says.
 * @module
 */
import type { LogoutToken } from './claims.js'
import type { BackchannelErrorCode, LogoutTokenErrorCode, SetErrorCode } from './error-code.js'
import { BackchannelError, KeysUnavailable, LogoutTokenInvalid, RateLimited, SetInvalid } from './errors.js'

/** The answer to a back-channel logout request, ready for any HTTP framework to send. */
export interface LogoutOutcome {
  /** 200, or the error's status from {@link errorStatus} (400, 404, 405, 413, 429, 500, 503). */
  status: number
  /** Always `Cache-Control: no-store`; `Allow` on 405, `Retry-After` (seconds) on 429 and 503. */
  headers: Record<string, string>
  /** The JSON error body; `undefined` on success (an empty 200). */
  body?: LogoutErrorBody
  /**
   * The application the request reached, once it is found registered; `''` before that (a 405, a
   * 413, an unreadable body, an unknown application, a store outage while looking it up), so that
   * metrics and audit records keyed by it only ever name applications that exist.
   */
  app: string
  /** What failed, for logs, metrics and audit; absent on success. */
  error?: BackchannelError
  /** The verified token, once verification passed. */
  token?: LogoutToken
  /** `true` when the token's `jti` was already processed: answered 200, nothing revoked again. */
  replayed?: boolean
  /** How many sessions this logout ended. */
  revoked?: number
}

/** The error body of BCL §2.8. It names the rule that failed and never echoes the token. */
export interface LogoutErrorBody {
  error: 'invalid_request' | 'temporarily_unavailable' | 'server_error'
  error_description: string
}

/**
 * Error code → HTTP status: the one place a status is chosen. The token's rules
 * (`ERR_LOGOUT_TOKEN_*`, and `ERR_SET_*` of Security Event Tokens) all answer 400 and are not listed; typing the table by code makes a new
 * code without a status a compile error. Not exported by the package: read it with {@link errorStatus}.
 */
export const STATUS_BY_CODE: Readonly<
  Record<Exclude<BackchannelErrorCode, LogoutTokenErrorCode | SetErrorCode>, number>
> = {
  ERR_REQUEST_INVALID: 400,
  ERR_STREAM_UNAUTHORIZED: 401,
  ERR_APP_UNKNOWN: 404,
  ERR_STREAM_UNKNOWN: 404,
  ERR_METHOD_NOT_ALLOWED: 405,
  ERR_REQUEST_TOO_LARGE: 413,
  ERR_RATE_LIMITED: 429,
  ERR_INTERNAL: 500,
  ERR_RELAYS_UNSUPPORTED: 500,
  ERR_KEYS_UNAVAILABLE: 503,
  ERR_STORE_UNAVAILABLE: 503,
  // An issuer named by an admin call was refused: the caller's input (they never reach a logout).
  ERR_ISSUER_URL_INVALID: 400,
  ERR_ISSUER_INSECURE: 400,
  ERR_ISSUER_ADDRESS_FORBIDDEN: 400,
  ERR_ISSUER_REDIRECT: 400,
  ERR_ISSUER_RESPONSE_TOO_LARGE: 400,
  ERR_ISSUER_TIMEOUT: 400,
  ERR_ISSUER_UNREACHABLE: 400,
  ERR_ISSUER_MISMATCH: 400,
  ERR_ISSUER_METADATA_INVALID: 400,
  // A setting read at start; it never reaches a request unless the embedding application passes it late.
  ERR_PROXY_INVALID: 500,
}

/** Seconds a client is asked to wait after a 503 (read it with {@link errorStatus}). */
export const RETRY_AFTER_SECONDS = 5

/** The HTTP answer to an error: its status and, for 429 and 503, seconds to wait. */
export interface ErrorStatus {
  /** The HTTP status code. */
  status: number
  /** Seconds for the `Retry-After` header; set on 429 and 503 only. */
  retryAfter?: number
}

/**
 * The HTTP status of an error, read from the one table every route uses: codes not listed are
 * 400 for the rules of logout tokens and Security Event Tokens, and 500 for anything else (a bug, an uncoded error).
 * {@link failure} answers a logout request with it; use it directly for answers that are not a
 * logout (a readiness probe, an API's own error vocabulary).
 *
 * @example
 * ```ts
 * import { errors, errorStatus } from '@backchannel/core'
 * errorStatus(new errors.StoreUnavailable('down')) // { status: 503, retryAfter: 5 }
 * ```
 */
export function errorStatus(error: unknown): ErrorStatus {
  if (!(error instanceof BackchannelError)) return { status: 500 }
  const status =
    (STATUS_BY_CODE as Readonly<Record<string, number>>)[error.code] ??
    (error instanceof LogoutTokenInvalid || error instanceof SetInvalid ? 400 : 500)
  if (error instanceof RateLimited) return { status, retryAfter: error.retryAfter }
  if (status !== 503) return { status }
  return { status, retryAfter: (error instanceof KeysUnavailable && error.retryAfter) || RETRY_AFTER_SECONDS }
}

/**
 * The outcome of a logout request that failed with `error`: its status from {@link errorStatus},
 * the BCL §2.8 JSON body, and `Allow` / `Retry-After` where the status calls for them. For a
 * route that answers some requests itself, e.g. a throttle in front of the flow.
 *
 * @example
 * ```ts
 * import { errors, failure, toResponse } from '@backchannel/core'
 * const res = toResponse(failure('wiki', new errors.RateLimited(30))) // 429, Retry-After: 30
 * ```
 */
export function failure(app: string, error: BackchannelError): LogoutOutcome {
  const { status, retryAfter } = errorStatus(error)
  const headers: Record<string, string> = { 'cache-control': 'no-store', 'content-type': 'application/json' }
  if (status === 405) headers.allow = 'POST'
  if (retryAfter !== undefined) headers['retry-after'] = String(retryAfter)
  const body: LogoutErrorBody =
    status === 503
      ? { error: 'temporarily_unavailable', error_description: error.message }
      : status >= 500
        ? { error: 'server_error', error_description: 'the logout could not be processed' }
        : { error: 'invalid_request', error_description: error.message }
  return { status, headers, body, app, error }
}

/** Builds the outcome of an accepted logout (written out, not spread: it is on every request's path). */
export function success(
  app: string,
  { token, revoked, replayed }: Pick<LogoutOutcome, 'token' | 'revoked' | 'replayed'>,
): LogoutOutcome {
  const outcome: LogoutOutcome = { status: 200, headers: { 'cache-control': 'no-store' }, app, token, revoked }
  if (replayed) outcome.replayed = true
  return outcome
}

/**
 * Turns an outcome into a web `Response`.
 *
 * @example
 * ```ts
 * import { processLogoutRequest, toResponse } from '@backchannel/core'
 * const outcome = await processLogoutRequest(request, 'wiki', deps)
 * return toResponse(outcome)
 * ```
 */
export function toResponse(outcome: LogoutOutcome): Response {
  return new Response(outcome.body ? JSON.stringify(outcome.body) : null, {
    status: outcome.status,
    headers: outcome.headers,
  })
}
