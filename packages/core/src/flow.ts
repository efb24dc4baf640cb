/**
 * The back-channel logout flow, free of any HTTP framework: form body → application → verified
 * token → replay claim → revocation → {@link LogoutOutcome}.
 * @see https://openid.net/specs/openid-connect-backchannel-1_0.html#BCRequest BCL §2.5, §2.8
 * @module
 */
import { base64url } from 'jose'
import { concat } from './_internal/bytes.js'
import { unrecorded } from './_internal/recorded.js'
import { type AppConfig, type AppRegistry, resolvePolicy } from './app.js'
import {
  AppUnknown,
  BackchannelError,
  InternalError,
  InvalidRequest,
  MethodNotAllowed,
  RequestTooLarge,
} from './errors.js'
import { guardStore } from './guard-store.js'
import { failure, type LogoutOutcome, success, toResponse } from './outcome.js'
import { type ReplayStore, replayKey } from './replay.js'
import { type RevocationTarget, relayOnce, relayRequest, type SessionRevoker } from './session.js'
import type { LogoutVerifier } from './verify.js'

/**
 * What the flow needs. Errors of `apps`, `revoker` and `replay` that are not coded become
 * `ERR_STORE_UNAVAILABLE` (503): see {@link guardStore}.
 */
export interface LogoutFlowDependencies {
  apps: AppRegistry
  verifier: LogoutVerifier
  /**
   * Ends sessions. When no `replay` is given, the revoker is also the replay store (it must then
   * be a {@link ReplayStore}), and if it has `claimAndRevoke` each logout claims its `jti` and
   * revokes in that one write; without it, `claim` then `revoke`.
   */
  revoker: SessionRevoker
  /**
   * Where `jti`s are claimed, when not in the revoker: a separate store (e.g. Redis beside your
   * own sessions table). Each logout then calls `replay.claim`, then `revoker.revoke`, and gives
   * the claim back with `replay.release` if the revocation fails.
   */
  replay?: ReplayStore
  /** The clock, seconds since epoch. Default `Date.now() / 1000`. */
  now?: () => number
  /** Told about failures that do not change the answer (a replay claim that could not be given back). */
  onError?: (error: unknown) => void
}

/** One back-channel logout request. */
export interface LogoutRequest {
  /** The application name, the `:app` of `/auth/logout/:app`. */
  app: string
  /** The raw `application/x-www-form-urlencoded` body. */
  body: string
  /** The request's `Content-Type` header. */
  contentType: string | null | undefined
}

/** Largest accepted request body, in bytes (a logout token is a few KiB at most). */
export const MAX_BODY_BYTES = 16 * 1024

/**
 * Runs one back-channel logout from an already-read body and says what to answer. The entry
 * point for frameworks with their own request type (Express, Fastify, Koa): you read the body
 * and send the outcome. It never throws: every failure is an outcome with its status, and
 * `outcome.error` keeps the coded error for logs. With a web `Request`, use
 * {@link processLogoutRequest} or {@link createLogoutHandler}.
 *
 * @example
 * ```ts
 * const outcome = await processLogout(
 *   { app: 'wiki', body: await req.text(), contentType: req.headers.get('content-type') },
 *   { apps, verifier, revoker: store },
 * )
 * res.status(outcome.status).set(outcome.headers).json(outcome.body)
 * ```
 */
export async function processLogout(request: LogoutRequest, deps: LogoutFlowDependencies): Promise<LogoutOutcome> {
  // Text a framework already decoded: its UTF-8 length is the nearest thing to its size.
  if (overBodyLimit(request.body)) return failure('', tooLarge())
  return processForm(request, deps)
}

/** The flow from a body whose size was checked: application, then token, then revocation. */
async function processForm(request: LogoutRequest, deps: LogoutFlowDependencies): Promise<LogoutOutcome> {
  const { app: name } = request
  let app: AppConfig | undefined
  try {
    // The application first: until it is known, outcomes carry no name (metrics, audit).
    app = await guardStore(deps.apps).get(name)
    if (!app) throw new AppUnknown(`no application is registered as ${JSON.stringify(name)}`)
    const logoutToken = readLogoutToken(request)

    const now = deps.now?.() ?? Date.now() / 1000
    const token = await deps.verifier.verify(logoutToken, app, { now })

    const target: RevocationTarget = {
      app: name,
      iss: token.iss,
      sub: token.sub,
      sid: token.sid,
      scope: resolvePolicy(app.policy).logoutScope,
      issuedAt: token.iat ?? now,
      jti: token.jti,
    }
    // Refused before anything is written when the revoker cannot store the relays' deliveries.
    const relay = relayRequest(app, deps.revoker, { token: logoutToken, expiresAt: token.exp ?? token.acceptedUntil })
    if (relay) target.relay = relay
    // Claim the jti with or before the revocation, so that a resent subject-wide token cannot end
    // sessions created after the first logout (BCL §2.5); give the claim back if the revocation
    // fails. A claimed token whose logout is not recorded is no replay: its first attempt stopped
    // in between.
    const revoker = guardStore(deps.revoker)
    // A token without `jti` (allowed for HMAC apps) is claimed by its hash: resent within its
    // life, it must not end the sessions that began after its first use.
    const key = replayKey(name, token.iss, token.jti ?? `sha256:${await sha256(logoutToken)}`)
    // A Shared Signals event for the same IdP session relayed it already: revoke, do not relay again.
    // Given back unless this attempt writes the revocation (a replay, a failure).
    const releaseRelay = target.relay ? await relayOnce(target, replayStore(deps), now) : undefined
    try {
      let claimedIn: ReplayStore | undefined // where this attempt's claim is, to give it back
      if (deps.replay === undefined && revoker.claimAndRevoke) {
        // The claim goes with the revocation's write, and is not kept if that fails.
        const result = await revoker.claimAndRevoke(key, token.acceptedUntil, target)
        if (result.claimed) return success(name, { token, revoked: result.revoked })
      } else {
        const replay = replayStore(deps)
        if (await replay.claim(key, token.acceptedUntil)) claimedIn = replay
      }
      if (!claimedIn && (await unrecorded([target], revoker)).length === 0) {
        await releaseRelay?.().catch((releaseError) => deps.onError?.(releaseError))
        return success(name, { token, replayed: true, revoked: 0 })
      }
      try {
        const { revoked } = await revoker.revoke(target)
        return success(name, { token, revoked })
      } catch (err) {
        if (claimedIn) await claimedIn.release(key).catch((releaseError) => deps.onError?.(releaseError))
        throw err
      }
    } catch (err) {
      await releaseRelay?.().catch((releaseError) => deps.onError?.(releaseError))
      throw err
    }
  } catch (err) {
    const error =
      err instanceof BackchannelError ? err : new InternalError('the logout could not be processed', { cause: err })
    return failure(app ? name : '', error)
  }
}

/** Options of {@link createLogoutHandler}. */
export interface LogoutHandlerOptions extends LogoutFlowDependencies {
  /** The application name, or how to read it from the request. Default: the last path segment. */
  app?: string | ((request: Request) => string)
  /** Called with every outcome (logging, metrics, audit). */
  onOutcome?: (outcome: LogoutOutcome) => void
}

/**
 * A ready `(request: Request) => Promise<Response>` handler: the entry point for fetch-style
 * frameworks (Hono, Next.js route handlers, Bun, Deno, h3) when the answer needs no change. It
 * also answers 405 to other methods and 413 to bodies over {@link MAX_BODY_BYTES}.
 *
 * @example
 * ```ts
 * const logout = createLogoutHandler({ apps, verifier, revoker: store })
 * app.post('/auth/logout/:app', (c) => logout(c.req.raw))  // Hono
 * ```
 */
export function createLogoutHandler(options: LogoutHandlerOptions): (request: Request) => Promise<Response> {
  const { app: appOption } = options
  const appOf =
    typeof appOption === 'function' ? appOption : (request: Request) => appOption ?? lastPathSegment(request.url)
  return async (request) => {
    const outcome = await processLogoutRequest(request, appOf(request), options)
    options.onOutcome?.(outcome)
    return toResponse(outcome)
  }
}

/**
 * {@link processLogout} for a web `Request`, returning the outcome rather than a `Response`: the
 * entry point for a fetch-style route that acts on the outcome before answering (throttles,
 * records, or rewrites it, as `@backchannel/server` does). It also answers 405 to other methods,
 * 413 to bodies over {@link MAX_BODY_BYTES} (counted in bytes as they arrive, without buffering
 * more than that), and 400 to a body that could not be read (the client went away).
 *
 * @example
 * ```ts
 * const outcome = await processLogoutRequest(request, 'wiki', { apps, verifier, revoker: store })
 * if (outcome.status >= 500) console.error(outcome.error)
 * return toResponse(outcome)
 * ```
 */
export async function processLogoutRequest(
  request: Request,
  app: string,
  deps: LogoutFlowDependencies,
): Promise<LogoutOutcome> {
  // Refused before the application is looked up: these outcomes name none (see LogoutOutcome.app).
  if (request.method !== 'POST') return failure('', new MethodNotAllowed(`${request.method} is not allowed: use POST`))
  let body: string | undefined
  try {
    body = await readBody(request, MAX_BODY_BYTES)
  } catch (err) {
    return failure('', err as InvalidRequest)
  }
  if (body === undefined) return failure('', tooLarge())
  return processForm({ app, body, contentType: request.headers.get('content-type') }, deps)
}

/**
 * Reads a body as text, or `undefined` once it exceeds `maxBytes` (counted in bytes before
 * decoding, without buffering the rest).
 * @throws {InvalidRequest} when the body could not be read (the client aborted it).
 *
 * @example
 * ```ts
 * const body = await readBody(request, 64 * 1024)
 * if (body === undefined) return new Response(null, { status: 413 })
 * ```
 */
export async function readBody(request: Request, maxBytes: number): Promise<string | undefined> {
  try {
    return await readBodyText(request, maxBytes)
  } catch (err) {
    throw new InvalidRequest('the body could not be read', { cause: err })
  }
}

async function readBodyText(request: Request, maxBytes: number): Promise<string | undefined> {
  const declared = request.headers.get('content-length')
  if (declared !== null) {
    // HTTP framing delivers exactly Content-Length bytes, so the header is the size: read it
    // whole (on Node, cheaper than a web stream over the socket).
    return Number(declared) > maxBytes ? undefined : request.text()
  }
  if (!request.body) return ''
  const chunks: Uint8Array[] = []
  let size = 0
  for await (const chunk of request.body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength
    if (size > maxBytes) {
      await request.body.cancel().catch(() => {})
      return undefined
    }
    chunks.push(chunk)
  }
  return new TextDecoder().decode(concat(chunks, size))
}

function readLogoutToken({ body, contentType }: LogoutRequest): string {
  const mediaType = contentType?.split(';')[0]?.trim().toLowerCase()
  if (mediaType !== 'application/x-www-form-urlencoded') {
    throw new InvalidRequest('the body must be application/x-www-form-urlencoded')
  }
  const values = new URLSearchParams(body).getAll('logout_token')
  if (values.length > 1) throw new InvalidRequest('logout_token must appear exactly once')
  if (!values[0]) throw new InvalidRequest('logout_token is missing')
  return values[0]
}

const tooLarge = () => new RequestTooLarge(`the request body is larger than ${MAX_BODY_BYTES} bytes`)

/** The store `jti`s are claimed in: `replay`, or else the revoker, which must then be one. */
function replayStore({ replay, revoker }: LogoutFlowDependencies): ReplayStore {
  const store = replay ?? (revoker as Partial<ReplayStore>)
  if (typeof store.claim !== 'function' || typeof store.release !== 'function') {
    throw new InternalError('no replay store: pass `replay`, or a revoker that is also a ReplayStore')
  }
  return guardStore(store as ReplayStore)
}

/** The SHA-256 of `text`, base64url (Web Crypto, so that core runs wherever `fetch` does). */
async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text))
  return base64url.encode(new Uint8Array(digest))
}

/** Whether `text` is over {@link MAX_BODY_BYTES} in UTF-8, encoding it only when its length leaves a doubt. */
function overBodyLimit(text: string): boolean {
  // Each UTF-16 unit is 1 to 3 UTF-8 bytes.
  if (text.length > MAX_BODY_BYTES) return true
  if (text.length * 3 <= MAX_BODY_BYTES) return false
  return new TextEncoder().encode(text).byteLength > MAX_BODY_BYTES
}

function lastPathSegment(url: string): string {
  const segment = new URL(url).pathname.split('/').filter(Boolean).at(-1) ?? ''
  try {
    return decodeURIComponent(segment)
  } catch {
    return segment
  }
}
