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
import { countFailure, type FailureLimiter, pathName } from './rate-limit.js'

/** What the logout route needs. */
export interface LogoutRouteDependencies {
  flow: LogoutFlowDependencies
  audit: AuditRecorder
  limiter: FailureLimiter
  metrics: Metrics
  logger: Logger
  /**
   * Told of each logout this route accepted (not a replay) before it is answered: wakes the relay
   * drainer, and waits up to the application's `policy.relayWaitMs` for its first attempts.
   */
  relayed?: (app: string) => Promise<void>
}

/** Who sent a request: its client address (for the throttle) and its request id (for the log). */
export interface Caller {
  address: string
  requestId: string
}

/** Answers one request to `/auth/logout/:app`; `rawApp` is the path segment, still percent-encoded. */
export async function handleLogout(request: Request, rawApp: string, caller: Caller, deps: LogoutRouteDependencies) {
  const started = performance.now()
  const app = pathName(rawApp, 'application', noAppHere)
  const outcome = typeof app === 'string' ? await processLogoutRequest(request, app, deps.flow) : failure('', app)
  if (outcome.status === 200 && !outcome.replayed && deps.relayed) await deps.relayed(outcome.app)
  return answer(outcome, started, caller, deps)
}

/** Answers a request to a path near the route (`/auth/logout/`, `/auth/logout/a/b`): no such application. */
export function handleLogoutPath(caller: Caller, deps: LogoutRouteDependencies) {
  return answer(failure('', noAppHere()), performance.now(), caller, deps)
}

const noAppHere = () =>
  new errors.AppUnknown('no application is registered at this path: logouts go to /auth/logout/APP')

function answer(outcome: LogoutOutcome, started: number, caller: Caller, deps: LogoutRouteDependencies) {
  // `app:` here, `stream:` on /ssf: the two routes' keys cannot meet. Unknown names all count as `app:`.
  const retryAfter = countFailure(deps.limiter, outcome, caller.address, `app:${outcome.app}`)
  const throttled = retryAfter !== undefined
  if (throttled) outcome = failure(outcome.app, new errors.RateLimited(retryAfter, { cause: outcome.error }))
  const seconds = (performance.now() - started) / 1000
  record(outcome, seconds, throttled, caller.requestId, deps)
  return toResponse(outcome)
}

function record(
  outcome: LogoutOutcome,
  seconds: number,
  throttled: boolean,
  requestId: string,
  deps: LogoutRouteDependencies,
) {
  const { status, app, error, token, revoked, replayed } = outcome
  const code = error?.code ?? ''
  // Only registered applications are named (core leaves `app` empty until then): unknown names
  // would make the label set grow without bound.
  const known = status !== 429 && app !== ''
  deps.metrics.logouts.inc({ app: known ? app : '(other)', status: String(status), code })
  deps.metrics.latency.observe({ status: String(status) }, seconds)
  if (revoked) deps.metrics.revoked.inc({ app }, revoked)
  if (code === 'ERR_STORE_UNAVAILABLE') deps.metrics.storeErrors.inc()

  const ms = Math.round(seconds * 10_000) / 10
  const line = { requestId, app: app || undefined, status, code: code || undefined, revoked, replayed, ms }
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
  if (outcomeName && !throttled && app !== '') {
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
