/**
 * The delivery of the Shared Signals receiver, free of any HTTP framework: request → stream → its
 * `Authorization` → verified SET → replay claim (7 days) → one revocation per application of the
 * stream → {@link SsfOutcome}. A polled SET ({@link processSecurityEvent}) joins at the verified
 * SET: push and poll are one pipeline.
 * @see https://www.rfc-editor.org/rfc/rfc8935 RFC 8935 (push delivery)
 * @see https://www.rfc-editor.org/rfc/rfc8936 RFC 8936 (poll delivery)
 * @module
 */
import { constantTimeEqual, fromHex } from './_internal/bytes.js'
import { unrecorded } from './_internal/recorded.js'
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
  SetMalformed,
  StreamUnauthorized,
  StreamUnknown,
} from './errors.js'
import { readBody } from './flow.js'
import { guardStore } from './guard-store.js'
import { errorStatus } from './outcome.js'
import { type ReplayStore, replayKey } from './replay.js'
import { type RevocationTarget, relayOnce, relayRequest, type SessionRegistry, type SessionRevoker } from './session.js'
import { SET_REPLAY_SECONDS, type SecurityEvent, type SetVerifier, type StreamConfig } from './set.js'
import { interpretEvent, type SsfAction } from './ssf-event.js'
import { readStreamEvent, type StreamEventRecorder } from './ssf-stream-event.js'

/** What the flow needs. Errors of the stores that are not coded become `ERR_STORE_UNAVAILABLE` (503). */
export interface SsfFlowDependencies {
  /** The streams; without `recordEvent`, verification and `stream-updated` events are answered ignored. */
  streams: { get(name: string): Promise<StreamConfig | undefined> } & Partial<StreamEventRecorder>
  apps: AppRegistry
  verifier: SetVerifier
  /**
   * Ends sessions (the same revoker as logouts, so relays fire too). With `listByEmail` (the
   * gateway's stores have it), `email` subjects end the sessions of the users registered with
   * that email; without it they are ignored.
   */
  revoker: SessionRevoker & Pick<SessionRegistry, 'listByEmail'>
  /** Where `jti`s are claimed for {@link SET_REPLAY_SECONDS}. */
  replay: ReplayStore
  /** The clock, seconds since epoch. Default `Date.now() / 1000`. */
  now?: () => number
}

/** Largest accepted SET, in bytes. */
export const MAX_SET_BYTES = 64 * 1024

export { SET_REPLAY_SECONDS }

/**
 * What became of an accepted SET: it ended sessions, matched none, asked nothing, or was seen
 * before; `applied`: a stream event (verification, `stream-updated`) was recorded on the stream.
 */
export type SsfResult = 'revoked' | 'unmatched' | 'ignored' | 'replayed' | 'applied'

/** What became of one SET, pushed or polled: for a push, the answer, ready for any HTTP framework to send. */
export interface SsfOutcome {
  /** 202 when accepted; else the error's status from core's one table (400, 401, 404, 405, 413, 500, 503). */
  status: number
  headers: Record<string, string>
  /** RFC 8935 §2.4 error body; `undefined` when accepted (an empty 202). */
  body?: { err: SetErr; description: string }
  /**
   * The stream the SET was for, once it is found registered; `''` before that (a 405, an unknown
   * stream, a store outage while looking it up), so that metrics and audit records only ever name
   * streams that exist.
   */
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
  /**
   * What was revoked, one entry per application and user (`result` `revoked` or `unmatched`): an
   * `email` subject may name several users of one application, or none.
   */
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
  let stream: StreamConfig | undefined
  let body: string | undefined
  try {
    if (request.method !== 'POST') throw new MethodNotAllowed(`${request.method} is not allowed: use POST`)
    stream = await guardStore(deps.streams).get(name)
    if (!stream) throw new StreamUnknown(`no stream is registered as ${JSON.stringify(name)}`)
    if (!(await authorized(request.headers.get('authorization'), stream.authorizationHash))) {
      throw new StreamUnauthorized("the Authorization header is missing or not this stream's")
    }
    const mediaType = request.headers.get('content-type')?.split(';')[0]?.trim().toLowerCase()
    if (mediaType !== 'application/secevent+jwt') throw new InvalidRequest('the body must be application/secevent+jwt')
    body = await readBody(request, MAX_SET_BYTES)
    if (body === undefined) throw new RequestTooLarge(`the SET is larger than ${MAX_SET_BYTES} bytes`)
  } catch (err) {
    return ssfFailure(stream ? name : '', coded(err))
  }
  return processSecurityEvent(body.trim(), stream, deps)
}

/**
 * Runs one SET of `stream` that arrived by any means (the body of a push, one of a poll's `sets`):
 * verification, then what its event asks. It never throws: every failure is an outcome, whose
 * `body.err` is what a poll acknowledges in `setErrs`.
 *
 * @example
 * ```ts
 * const outcome = await processSecurityEvent(token, stream, { streams, apps, verifier, revoker, replay })
 * outcome.status // 202: acknowledge it; 400: a setErr with outcome.body.err; 503: neither, it comes again
 * ```
 */
export async function processSecurityEvent(
  token: string,
  stream: StreamConfig,
  deps: SsfFlowDependencies,
): Promise<SsfOutcome> {
  const { name } = stream
  let set: SecurityEvent | undefined
  let event: string | undefined
  try {
    // A polled SET meets the push route's cap too (a compact JWS is ASCII: characters are bytes).
    if (token.length > MAX_SET_BYTES) throw new SetMalformed(`the SET is larger than ${MAX_SET_BYTES} bytes`)
    const now = deps.now?.() ?? Date.now() / 1000
    set = await deps.verifier.verify(token, stream, now)
    const apps = (await Promise.all(stream.apps.map((app) => guardStore(deps.apps).get(app)))).filter((a) => !!a)
    if (apps.length === 0) throw new SetAccessDenied('the stream feeds no registered application')
    const names = apps.map((app) => app.name)
    const streamEvent = readStreamEvent(set)
    if (streamEvent !== undefined) {
      // About the stream, not a subject: recorded on the stream, and never claimed (recording twice is harmless).
      event = streamEvent.event
      const fields = { set, event, apps: names }
      if ('invalid' in streamEvent) return accepted(name, { ...fields, result: 'ignored', reason: streamEvent.invalid })
      const recorder = deps.streams.recordEvent && guardStore(deps.streams as StreamEventRecorder)
      if (await recorder?.recordEvent(name, streamEvent, now)) return accepted(name, { ...fields, result: 'applied' })
      const reason = !recorder
        ? 'stream events are not recorded here'
        : streamEvent.event === 'verification'
          ? 'no verification was requested with this state'
          : 'a status issued later is recorded'
      return accepted(name, { ...fields, result: 'ignored', reason })
    }
    const action = interpretEvent(set, stream)
    event = action.event
    const revoker = guardStore(deps.revoker)
    const ignored = (reason: string) => accepted(name, { set, event, apps: names, result: 'ignored', reason })
    if (action.action === 'ignore') return ignored(action.reason)
    if (action.email !== undefined && action.sid === undefined && !revoker.listByEmail) {
      return ignored('the session store does not match email subjects')
    }

    // A session that began after the event is not ended (and a future time is taken as now).
    const issuedAt = Math.min(set.eventTimestamp ?? set.iat, now)
    const { jti } = set
    // Every target is built, and refused if need be, before anything is claimed or written.
    const planned: RevocationTarget[] = []
    for (const app of apps) {
      for (const user of await usersOf(action, app, revoker)) {
        const target: RevocationTarget = {
          app: app.name,
          iss: user.iss ?? sessionIssuer(app),
          ...(user.sub === undefined ? {} : { sub: user.sub }),
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
        planned.push(target)
      }
    }

    const replay = guardStore(deps.replay)
    const key = replayKey(`ssf\n${name}`, set.iss, jti)
    const expiresAt = now + SET_REPLAY_SECONDS
    const targets: NonNullable<SsfOutcome['targets']> = []
    const done = (target: RevocationTarget, revoked: number) => {
      const { app, iss, sub, sid } = target
      targets.push({ app, iss, revoked, ...(sub === undefined ? {} : { sub }), ...(sid === undefined ? {} : { sid }) })
    }
    let claimed: boolean
    const [only] = planned
    if (planned.length === 1 && only && (deps.replay as object) === deps.revoker && revoker.claimAndRevoke) {
      // One target on a store that is also the replay store: the claim goes with the revocation's
      // write (one round trip, as a logout), and is not kept if that fails.
      const releaseRelay = await relayOnce(only, replay, now)
      const result = await revoker.claimAndRevoke(key, expiresAt, only).catch(async (err: unknown) => {
        await releaseRelay().catch(() => {})
        throw err
      })
      claimed = result.claimed
      if (result.claimed) done(only, result.revoked)
      else await releaseRelay().catch(() => {})
    } else {
      claimed = await replay.claim(key, expiresAt)
      if (claimed) {
        await revokeEach(planned, revoker, replay, now, done).catch(async (err: unknown) => {
          // The transmitter retries a refused SET, and the retry must act. A revoker that tells
          // what is recorded keeps the claim: the retry then revokes and relays only what this
          // attempt did not (see below). One that cannot tell gives it back: the retry runs whole.
          if (!revoker.recorded) await replay.release(key).catch(() => {})
          throw err
        })
      }
    }
    if (!claimed) {
      // Claimed before: a replay only once what that attempt planned is recorded. One that stopped
      // between its claim and its revocations (a crash, a claim it could not give back) left a
      // SET to act on now, or the transmitter's retry would be acknowledged for nothing.
      const pending = await unrecorded(planned, revoker)
      if (pending.length === 0) return accepted(name, { set, event, apps: names, result: 'replayed' })
      await revokeEach(pending, revoker, replay, now, done)
    }
    const revoked = targets.reduce((sum, target) => sum + target.revoked, 0)
    return accepted(name, { set, event, apps: names, targets, result: revoked > 0 ? 'revoked' : 'unmatched', revoked })
  } catch (err) {
    return { ...ssfFailure(name, coded(err)), ...(set ? { set } : {}), ...(event ? { event } : {}) }
  }
}

const coded = (err: unknown): BackchannelError =>
  err instanceof BackchannelError ? err : new InternalError('the SET could not be processed', { cause: err })

/** Revokes each target in turn, relaying it unless a logout token for the same IdP session was relayed already. */
async function revokeEach(
  planned: RevocationTarget[],
  revoker: SessionRevoker,
  replay: ReplayStore,
  now: number,
  done: (target: RevocationTarget, revoked: number) => void,
): Promise<void> {
  for (const target of planned) {
    const releaseRelay = await relayOnce(target, replay, now)
    const { revoked } = await revoker.revoke(target).catch(async (err: unknown) => {
      await releaseRelay().catch(() => {})
      throw err
    })
    done(target, revoked)
  }
}

/**
 * The users an event's action names in `app`: the one it names, or for an `email` subject (and no
 * session) each (`iss`, `sub`) registered with that email — none when nobody is.
 */
async function usersOf(
  action: Extract<SsfAction, { action: 'revoke' }>,
  app: { name: string },
  revoker: SsfFlowDependencies['revoker'],
): Promise<{ iss?: string; sub?: string }[]> {
  const { email, sid, iss, sub } = action
  if (email === undefined || sid !== undefined || !revoker.listByEmail) return [{ iss, sub }]
  const users = new Map<string, { iss: string; sub: string }>()
  for (const session of await revoker.listByEmail(app.name, email)) {
    users.set(JSON.stringify([session.iss, session.sub]), { iss: session.iss, sub: session.sub })
  }
  return [...users.values()]
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
