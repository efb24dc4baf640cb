/**
 * Where an HTTP status is chosen: one table from error code to status, and the JSON error body
 * of BCL §2.8. Every framework sends what {@link LogoutOutcome} says.
 * @module
 */
import type { LogoutToken } from './claims.js'
import { BackchannelError, LogoutTokenInvalid } from './errors.js'

/** The answer to a back-channel logout request, ready for any HTTP framework to send. */
export interface LogoutOutcome {
  /** 200, 400, 404, 405, 413, 500 or 503. */
  status: number
  /** Always `Cache-Control: no-store`; `Allow` on 405, `Retry-After` on 503. */
  headers: Record<string, string>
  /** The JSON error body; `undefined` on success (an empty 200). */
  body?: LogoutErrorBody
  /** The application name from the URL. */
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

/** Error code → HTTP status. Codes not listed: `LogoutTokenInvalid` subclasses 400, anything else 500. */
export const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  ERR_REQUEST_INVALID: 400,
  ERR_APP_UNKNOWN: 404,
  ERR_METHOD_NOT_ALLOWED: 405,
  ERR_REQUEST_TOO_LARGE: 413,
  ERR_KEYS_UNAVAILABLE: 503,
  ERR_STORE_UNAVAILABLE: 503,
}

/** Seconds a client is asked to wait after a 503. */
export const RETRY_AFTER_SECONDS = 5

/** The HTTP status for an error. */
export function statusOf(error: unknown): number {
  if (!(error instanceof BackchannelError)) return 500
  return STATUS_BY_CODE[error.code] ?? (error instanceof LogoutTokenInvalid ? 400 : 500)
}

/** Builds the outcome of a failed request. */
export function failure(app: string, error: BackchannelError): LogoutOutcome {
  const status = statusOf(error)
  const headers: Record<string, string> = { 'cache-control': 'no-store', 'content-type': 'application/json' }
  if (status === 405) headers.allow = 'POST'
  if (status === 503) headers['retry-after'] = String(RETRY_AFTER_SECONDS)
  const body: LogoutErrorBody =
    status === 503
      ? { error: 'temporarily_unavailable', error_description: error.message }
      : status >= 500
        ? { error: 'server_error', error_description: 'the logout could not be processed' }
        : { error: 'invalid_request', error_description: error.message }
  return { status, headers, body, app, error }
}

/**
 * Builds the outcome of an accepted logout. Written out rather than as `{ ...extra, status, … }`:
 * on Node 20, V8 gives every object made by a spread followed by more properties a hidden class
 * of its own, made in the old generation (BENCHMARKS.md, eleventh round).
 */
export function success(
  app: string,
  { token, revoked, replayed }: Pick<LogoutOutcome, 'token' | 'revoked' | 'replayed'>,
): LogoutOutcome {
  const outcome: LogoutOutcome = { status: 200, headers: { 'cache-control': 'no-store' }, app, token, revoked }
  if (replayed) outcome.replayed = true
  return outcome
}

/** Turns an outcome into a web `Response`. */
export function toResponse(outcome: LogoutOutcome): Response {
  return new Response(outcome.body ? JSON.stringify(outcome.body) : null, {
    status: outcome.status,
    headers: outcome.headers,
  })
}
