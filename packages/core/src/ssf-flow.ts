/**
 * The push delivery of the Shared Signals receiver, free of any HTTP framework: request → stream
 * → its `Authorization` → verified SET → replay claim (7 days) → one revocation per application
 * of the stream → {@link SsfOutcome}.
 * @see https://www.rfc-editor.org/rfc/rfc8935 RFC 8935 (push delivery)
 * @module
 */
import { constantTimeEqual, fromHex } from './_internal/bytes.js'
import { type AppRegistry, sessionIssuer } from './app.js'
import {
  BackchannelError,
  InternalError,
  InvalidRequest,
  MethodNotAllowed,
  RequestTooLarge,
  SetAccessDenied,
  type SetErr,
  SetInvalid,
  StreamUnauthorized,
  StreamUnknown,
} from './errors.js'
import { readBody } from './flow.js'
import { guardStore } from './guard-store.js'
import { errorStatus } from './outcome.js'
import { type ReplayStore, replayKey } from './replay.js'
import { type RevocationTarget, relayRequest, type SessionRevoker } from './session.js'
import type { SecurityEvent, SetVerifier, StreamConfig } from './set.js'
import { interpretEvent } from './ssf-event.js'

/** What the push flow needs. Errors of the stores that are not coded become `ERR_STORE_UNAVAILABLE` (503). */
export interface SsfFlowDependencies {
  streams: { get(name: string): Promise<StreamConfig | undefined> }
  apps: AppRegistry
  verifier: SetVerifier
  /** Ends sessions (the same revoker as logouts, so relays fire too). */
  revoker: SessionRevoker
  /** Where `jti`s are claimed for {@link SET_REPLAY_SECONDS}. */
  replay: ReplayStore
  /** The clock, seconds since epoch. Default `Date.now() / 1000`. */
  now?: () => number
}

/** Largest accepted SET, in bytes. */
export const MAX_SET_BYTES = 64 * 1024

/** Seconds a SET's `jti` is remembered: 7 days, as transmitters retry for hours. */
export const SET_REPLAY_SECONDS = 7 * 86400

/** What became of an accepted SET: it ended sessions, matched none, asked nothing, or was seen before. */
export type SsfResult = 'revoked' | 'unmatched' | 'ignored' | 'replayed'

/** The answer to one push request, ready for any HTTP framework to send. */
export interface SsfOutcome {
  /** 202 when accepted; else the error's status from core's one table (400, 401, 404, 405, 413, 500, 503). */
  status: number
  headers: Record<string, string>
  /** RFC 8935 §2.4 error body; `undefined` when accepted (an empty 202). */
  body?: { err: SetErr; description: string }
  /** The stream name from the URL. */
  stream: string
  error?: BackchannelError
  /** The verified SET, once verification passed. */
  set?: SecurityEvent
  /** The event's short name (`session-revoked`, …, or `other`), once verified. */
  event?: string
  result?: SsfResult
  /** Why an accepted SET ended nothing (`ignored`). */
  reason?: string
  /** Sessions ended, over every application of the stream. */
  revoked?: number
  /** The stream's registered applications, once the SET is verified. */
  apps?: string[]
  /** What was revoked in each application (`result` `revoked` or `unmatched`). */
  targets?: { app: string; iss: string; sub?: string; sid?: string; revoked: number }[]
}

/**
 * Runs one push request to `/ssf/:stream`. It never throws: every failure is an outcome.
 *
 * @example
 * ```ts
 * const outcome = await processSecurityEventRequest(request, 'okta', { streams, apps, verifier, revoker, replay })
 * return ssfResponse(outcome) // 202, or 400 {"err": "invalid_issuer", …}
 * ```
 */
export async function processSecurityEventRequest(
  request: Request,
  name: string,
  deps: SsfFlowDependencies,
): Promise<SsfOutcome> {
  let set: SecurityEvent | undefined
  let event: string | undefined
  try {
    if (request.method !== 'POST') throw new MethodNotAllowed(`${request.method} is not allowed: use POST`)
    const stream = await guardStore(deps.streams).get(name)
    if (!stream) throw new StreamUnknown(`no stream is registered as ${JSON.stringify(name)}`)
    if (!(await authorized(request.headers.get('authorization'), stream.authorizationHash))) {
      throw new StreamUnauthorized("the Authorization header is missing or not this stream's")
    }
    const mediaType = request.headers.get('content-type')?.split(';')[0]?.trim().toLowerCase()
    if (mediaType !== 'application/secevent+jwt') throw new InvalidRequest('the body must be application/secevent+jwt')
    const body = await readBody(request, MAX_SET_BYTES)
    if (body === undefined) throw new RequestTooLarge(`the SET is larger than ${MAX_SET_BYTES} bytes`)

    const now = deps.now?.() ?? Date.now() / 1000
    set = await deps.verifier.verify(body.trim(), stream, now)
    const action = interpretEvent(set)
    event = action.event
    const apps = (await Promise.all(stream.apps.map((app) => guardStore(deps.apps).get(app)))).filter((a) => !!a)
    if (apps.length === 0) throw new SetAccessDenied('the stream feeds no registered application')
    const names = apps.map((app) => app.name)
    if (action.action === 'ignore') {
      return accepted(name, { set, event, apps: names, result: 'ignored', reason: action.reason })
    }

    // A session that began after the event is not ended (and a future time is taken as now).
    const issuedAt = Math.min(set.eventTimestamp ?? set.iat, now)
    const revoker = guardStore(deps.revoker)
    const { jti } = set
    // Every target is built, and refused if need be, before anything is claimed or written.
    const planned = apps.map((app) => {
      const target: RevocationTarget = {
        app: app.name,
        iss: action.iss ?? sessionIssuer(app),
        ...(action.sub === undefined ? {} : { sub: action.sub }),
        ...(action.sid === undefined ? {} : { sid: action.sid }),
        // `session-revoked` naming a session ends that session only, whatever the app's logout scope.
        scope: 'session',
        issuedAt,
        bounded: true,
        jti,
      }
      // No logout token to forward: a SET is none, so `forward` relays are skipped.
      const relay = relayRequest(app, revoker)
      if (relay) target.relay = relay
      return target
    })

    const replay = guardStore(deps.replay)
    const key = replayKey(`ssf\n${name}`, set.iss, jti)
    if (!(await replay.claim(key, now + SET_REPLAY_SECONDS))) {
      return accepted(name, { set, event, apps: names, result: 'replayed' })
    }
    const targets: NonNullable<SsfOutcome['targets']> = []
    try {
      for (const target of planned) {
        const { revoked } = await revoker.revoke(target)
        const { app, iss, sub, sid } = target
        targets.push({
          app,
          iss,
          revoked,
          ...(sub === undefined ? {} : { sub }),
          ...(sid === undefined ? {} : { sid }),
        })
      }
    } catch (err) {
      // The transmitter retries a refused SET: it must then run rather than be taken for a replay.
      await replay.release(key).catch(() => {})
      throw err
    }
    const revoked = targets.reduce((sum, target) => sum + target.revoked, 0)
    return accepted(name, { set, event, apps: names, targets, result: revoked > 0 ? 'revoked' : 'unmatched', revoked })
  } catch (err) {
    const error =
      err instanceof BackchannelError ? err : new InternalError('the SET could not be processed', { cause: err })
    return { ...ssfFailure(name, error), ...(set ? { set } : {}), ...(event ? { event } : {}) }
  }
}

/**
 * The outcome of a push request refused with `error`: its status from core's one table and, for a
 * 400, the RFC 8935 body (`err` from a {@link SetInvalid}, else `invalid_request`).
 *
 * @example
 * ```ts
 * ssfFailure('okta', new errors.SetIssuer('wrong iss')).body // { err: 'invalid_issuer', description: 'wrong iss' }
 * ```
 */
export function ssfFailure(stream: string, error: BackchannelError): SsfOutcome {
  const { status, retryAfter } = errorStatus(error)
  const headers: Record<string, string> = { 'cache-control': 'no-store' }
  if (status === 405) headers.allow = 'POST'
  if (retryAfter !== undefined) headers['retry-after'] = String(retryAfter)
  const outcome: SsfOutcome = { status, headers, stream, error }
  if (status === 400) {
    headers['content-type'] = 'application/json'
    headers['content-language'] = 'en'
    outcome.body = { err: error instanceof SetInvalid ? error.err : 'invalid_request', description: error.message }
  }
  return outcome
}

function accepted(stream: string, fields: Omit<SsfOutcome, 'status' | 'headers' | 'stream'>): SsfOutcome {
  return { status: 202, headers: { 'cache-control': 'no-store' }, stream, ...fields }
}

/**
 * Turns an outcome into a web `Response`.
 *
 * @example
 * ```ts
 * return ssfResponse(await processSecurityEventRequest(request, 'okta', deps))
 * ```
 */
export function ssfResponse(outcome: SsfOutcome): Response {
  return new Response(outcome.body ? JSON.stringify(outcome.body) : null, {
    status: outcome.status,
    headers: outcome.headers,
  })
}

/** Compares `Bearer <token>` with the stored hash, in constant time. */
async function authorized(header: string | null, expectedHash: string): Promise<boolean> {
  const token = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')?.[1]
  if (!token) return false
  const actual = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(token)))
  const expected = fromHex(expectedHash)
  return expected !== undefined && constantTimeEqual(actual, expected)
}
