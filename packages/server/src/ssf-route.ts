/**
 * `/ssf/:stream`: the push delivery of Security Event Tokens (RFC 8935). Runs core's flow,
 * throttles failures like the logout route, and records the outcome (metrics, one log line, an
 * audit record per application of the stream). Every status comes from core's one table.
 */

import {
  errors,
  processSecurityEventRequest,
  type SsfFlowDependencies,
  type SsfOutcome,
  ssfFailure,
  ssfResponse,
} from '@backchannel/core'
import type { AuditOutcome } from '@backchannel/unstorage'
import type { Logger } from 'pino'
import type { AuditRecorder } from './audit.js'
import type { Caller } from './logout-route.js'
import type { Metrics } from './metrics.js'
import { countFailure, type FailureLimiter, pathName } from './rate-limit.js'

/** What the push route needs. */
export interface SsfRouteDependencies {
  flow: SsfFlowDependencies
  audit: AuditRecorder
  limiter: FailureLimiter
  metrics: Metrics
  logger: Logger
  /** Told of each SET that ended sessions: wakes the relay drainer for the deliveries it wrote. */
  revoked?: () => void
  /** Told of each verified SET, with its stream's name (the stream's `lastEventAt`). */
  seen?: (stream: string) => void
}

/** Answers one request to `/ssf/:stream`; `rawStream` is the path segment, still percent-encoded. */
export async function handleSsfPush(request: Request, rawStream: string, caller: Caller, deps: SsfRouteDependencies) {
  // Streams are named as applications are.
  const name = pathName(rawStream, 'stream', noStreamHere)
  const outcome =
    typeof name === 'string' ? await processSecurityEventRequest(request, name, deps.flow) : ssfFailure('', name)
  return answer(outcome, caller, deps)
}

/** Answers a request to a path near the route (`/ssf`, `/ssf/`, `/ssf/a/b`): no such stream. */
export function handleSsfPath(caller: Caller, deps: SsfRouteDependencies) {
  return answer(ssfFailure('', noStreamHere()), caller, deps)
}

const noStreamHere = () => new errors.StreamUnknown('no stream is registered at this path: SETs go to /ssf/STREAM')

function answer(outcome: SsfOutcome, caller: Caller, deps: SsfRouteDependencies) {
  // `stream:` here, `app:` on the logout route: the two routes' keys cannot meet.
  const retryAfter = countFailure(deps.limiter, outcome, caller.address, `stream:${outcome.stream}`)
  const throttled = retryAfter !== undefined
  if (throttled) {
    outcome = ssfFailure(outcome.stream, new errors.RateLimited(retryAfter, { cause: outcome.error }))
  }
  if (outcome.result === 'revoked') deps.revoked?.()
  recordSsfOutcome(outcome, throttled, caller.requestId, deps)
  return ssfResponse(outcome)
}

/**
 * Records what became of one SET, pushed or polled: metrics, one log line, an audit record per
 * application of the stream, the stream's last event.
 */
export function recordSsfOutcome(
  outcome: SsfOutcome,
  throttled: boolean,
  requestId: string,
  deps: SsfRouteDependencies,
) {
  const { status, stream, error, set, event, result, revoked, reason } = outcome
  if (set) deps.seen?.(stream)
  const code = error?.code
  const outcomeName: AuditOutcome | undefined =
    result ?? (status === 400 || status === 401 ? 'rejected' : status >= 500 ? 'failed' : undefined)
  // Only registered streams are named (core leaves `stream` empty until then): unknown names
  // would make the label set grow without bound.
  const known = status !== 429 && stream !== ''
  deps.metrics.ssfEvents.inc({
    stream: known ? stream : '(other)',
    event: event ?? '',
    outcome: outcomeName ?? (status === 429 ? 'throttled' : 'rejected'),
  })
  if (code === 'ERR_STORE_UNAVAILABLE') deps.metrics.storeErrors.inc()

  const line = { requestId, stream: stream || undefined, status, event, result, code, revoked, reason, jti: set?.jti }
  if (status === 202) deps.logger.info(line, 'security event')
  else if (status >= 500)
    deps.logger.error(Object.assign(line, { err: error?.cause ?? error }), 'security event failed')
  else deps.logger.warn(Object.assign(line, { reason: error?.message }), 'security event refused')

  // A request without this stream's Authorization is anyone's: logged and counted, not audited.
  if (!outcomeName || throttled || !known || status === 401) return
  // One record per application the event concerned (none known yet: one record of the gateway's).
  for (const app of outcome.apps ?? [undefined]) {
    // An email subject may name several users of one application: one record sums them.
    const targets = outcome.targets?.filter((t) => t.app === app) ?? []
    const target = targets[0]
    const appRevoked = targets.reduce((sum, t) => sum + t.revoked, 0)
    const acted = result === 'revoked' || result === 'unmatched'
    deps.audit.record({
      ...(app === undefined ? {} : { app }),
      source: 'ssf',
      stream,
      // Per application: one whose sessions matched nothing is `unmatched` even if another's did.
      outcome: acted && appRevoked === 0 ? 'unmatched' : outcomeName,
      ...(event ? { event } : {}),
      ...(code ? { code } : {}),
      ...(outcome.body ? { err: outcome.body.err } : {}),
      ...(result === 'ignored' && reason ? { reason } : {}),
      ...(target || set ? { iss: target?.iss ?? set?.iss } : {}),
      ...(target?.sub === undefined || targets.length > 1 ? {} : { sub: target.sub }),
      ...(target?.sid === undefined ? {} : { sid: target.sid }),
      ...(acted ? { revoked: appRevoked } : {}),
    })
  }
}
