/**
 * `/auth/logout/:app`: reads the request, runs the core flow, throttles failures, and records
 * the outcome (metrics, one log line, one audit record). Every status, the throttle's 429
 * included, comes from core's one table (`failure`, `toResponse`).
 */
import {
  errors,
  failure,
  type LogoutFlowDependencies,
  type LogoutOutcome,
  processLogoutRequest,
  toResponse,
} from '@backchannel/core'
import type { AuditOutcome } from '@backchannel/unstorage'
import type { Logger } from 'pino'
import type { AuditRecorder } from './audit.js'
import type { Metrics } from './metrics.js'
import type { FailureLimiter } from './rate-limit.js'

/** What the logout route needs. */
export interface LogoutRouteDependencies {
  flow: LogoutFlowDependencies
  audit: AuditRecorder
  limiter: FailureLimiter
  metrics: Metrics
  logger: Logger
}

// Failures a client caused: these count towards the limits.
const THROTTLED = new Set([400, 404, 405, 413])

/** Answers one request to `/auth/logout/:app` from `address`. */
export async function handleLogout(request: Request, app: string, address: string, deps: LogoutRouteDependencies) {
  const started = performance.now()
  let outcome = await processLogoutRequest(request, app, deps.flow)
  let throttled = false
  if (THROTTLED.has(outcome.status)) {
    const retryAfter = deps.limiter.fail(address, app)
    if (retryAfter !== undefined) {
      throttled = true
      outcome = failure(app, new errors.RateLimited(retryAfter, { cause: outcome.error }))
    }
  }
  const seconds = (performance.now() - started) / 1000
  record(outcome, seconds, throttled, deps)
  return toResponse(outcome)
}

function record(outcome: LogoutOutcome, seconds: number, throttled: boolean, deps: LogoutRouteDependencies) {
  const { status, app, error, token, revoked, replayed } = outcome
  const code = error?.code ?? ''
  // Unknown names would make the label set grow without bound.
  const known = status !== 404 && status !== 429
  deps.metrics.logouts.inc({ app: known ? app : '(other)', status: String(status), code })
  deps.metrics.latency.observe({ status: String(status) }, seconds)
  if (revoked) deps.metrics.revoked.inc({ app }, revoked)
  if (code === 'ERR_STORE_UNAVAILABLE') deps.metrics.storeErrors.inc()

  const ms = Math.round(seconds * 10_000) / 10
  const line = { app, status, code: code || undefined, revoked, replayed, ms }
  if (status === 200) deps.logger.info(line, 'logout')
  else if (status >= 500) deps.logger.error(Object.assign(line, { err: error?.cause ?? error }), 'logout failed')
  else deps.logger.warn(Object.assign(line, { reason: error?.message }), 'logout refused')

  // Audit what reached a known application, except throttled floods.
  const outcomeName: AuditOutcome | undefined =
    status === 200
      ? replayed
        ? 'replayed'
        : 'revoked'
      : status === 400
        ? 'rejected'
        : status >= 500
          ? 'failed'
          : undefined
  if (outcomeName && !throttled) {
    deps.audit.record({
      app,
      source: 'backchannel',
      outcome: outcomeName,
      ...(code ? { code } : {}),
      ...(token ? { iss: token.iss, sid: token.sid, sub: token.sub } : {}),
      ...(revoked === undefined ? {} : { revoked }),
    })
  }
}
