/**
 * One delivery attempt of a relay and, after a failure, when to try again: the token is minted
 * for the relay's mode, POSTed through core's guarded fetch (the issuer address policy, 5 s, no
 * redirects), and the answer classified as design.md "Relays" says. The outbox's drainer calls
 * these; they keep no state of their own.
 * @module
 */
import { randomUUID } from 'node:crypto'
import { BACKCHANNEL_LOGOUT_EVENT, BackchannelError, errors } from '@backchannel/core'
import { createGuardedFetch, type IssuerFetchPolicy } from '@backchannel/core/discovery'
import { mintLogoutToken } from '@backchannel/core/mint'
import type { RelayAttemptResult, RelayDelivery } from '@backchannel/unstorage'
import type { GatewaySigner } from './signer.js'

/** Seconds a token the gateway mints (`sign`, `hmac`) is valid: long enough to cross one POST. */
const TOKEN_LIFETIME = 120
/** Seconds one POST may take, answer included. */
const TIMEOUT = 5
/** Largest answer read from a relay, in bytes: its body is never used. */
const MAX_ANSWER_BYTES = 64 * 1024

/** Seconds to wait after the 1st, 2nd, … failed attempt; the last repeats. */
export const RETRY_SCHEDULE: readonly number[] = [1, 5, 30, 120, 600, 3600, 21_600]
/** Each wait is the schedule's ±25 %, so that relays failing together do not retry together. */
const JITTER = 0.25
/** `sign` and `hmac` deliveries (and `forward` ones whose token has no `exp`) give up after this many attempts… */
export const MAX_ATTEMPTS = 8
/** …or this many seconds after the delivery was created. */
export const MAX_AGE_SECONDS = 86_400

/** One attempt of a delivery; `secret` is the relay's own secret in `hmac` mode. */
export type AttemptDelivery = (delivery: RelayDelivery, secret?: string) => Promise<RelayAttemptResult>

/**
 * The audit `code` of a try that sent nothing: the token could not be minted or the application
 * read (retried, no attempt spent), or the delivery could never be sent (dead before sending).
 */
export const NOT_SENT = 'ERR_RELAY_NOT_SENT'

/** When to try a failed delivery again, or to give up: the shape of {@link planRetry}. */
export type PlanRetry = (
  delivery: RelayDelivery,
  result: RelayAttemptResult,
  now: number,
) => { state: 'pending'; nextAttemptAt: number } | { state: 'dead' }

/** What {@link createAttemptDelivery} needs. */
export interface AttemptDependencies {
  /** Signs `sign`-mode tokens with the gateway's current key. */
  signer: GatewaySigner
  /** The gateway's issuer (`BACKCHANNEL_PUBLIC_URL`): `iss` of the tokens it mints. */
  issuer: string
  /**
   * The gateway's outbound rules, as for issuers: insecure and trusted hosts, the proxy. Its
   * timeout and size cap are replaced by a relay's (5 s, 64 KiB).
   */
  fetchPolicy?: IssuerFetchPolicy
  /** The clock, seconds since epoch. */
  now: () => number
}

/**
 * Builds the attempt: mints the token for the delivery's mode (`forward`: the identity provider's
 * token as it came; `sign`: ES256 by the gateway, `aud` the relay's `clientId`; `hmac`: HS256
 * with `secret`), POSTs it as `logout_token`, and says what came of it. Never throws: a failure
 * to mint or to send is a `retry` or `dead` result naming why, never quoting the token.
 *
 * @example
 * ```ts
 * const attempt = createAttemptDelivery({ signer, issuer: 'https://gw.example.com', now: () => Date.now() / 1000 })
 * const result = await attempt(delivery) // { outcome: 'delivered', status: 200 } or retry / dead
 * ```
 */
export function createAttemptDelivery(deps: AttemptDependencies): AttemptDelivery {
  const post = createGuardedFetch({
    ...deps.fetchPolicy,
    timeout: TIMEOUT,
    maxBytes: MAX_ANSWER_BYTES,
  })

  async function tokenFor(delivery: RelayDelivery, secret: string | undefined): Promise<string> {
    const { logout } = delivery
    const now = deps.now()
    switch (delivery.mode) {
      case 'forward':
        if (logout.token === undefined) throw new Dead('a forward delivery holds no token to forward')
        if (logout.expiresAt !== undefined && logout.expiresAt <= now) {
          throw new Dead("the identity provider's token expired before it could be forwarded")
        }
        return logout.token
      case 'sign': {
        if (delivery.clientId === undefined) throw new Dead('a sign relay needs a clientId, the audience of its tokens')
        const iat = Math.floor(now)
        return deps.signer.sign({
          iss: deps.issuer,
          aud: delivery.clientId,
          ...(logout.sub === undefined ? {} : { sub: logout.sub }),
          ...(logout.sid === undefined ? {} : { sid: logout.sid }),
          jti: randomUUID(),
          iat,
          exp: iat + TOKEN_LIFETIME,
          events: { [BACKCHANNEL_LOGOUT_EVENT]: {} },
        })
      }
      case 'hmac':
        if (secret === undefined) throw new Dead('an hmac relay needs its secret')
        return mintLogoutToken({
          secret,
          iss: deps.issuer,
          ...(delivery.clientId === undefined ? {} : { aud: delivery.clientId }),
          ...(logout.sub === undefined ? {} : { sub: logout.sub }),
          ...(logout.sid === undefined ? {} : { sid: logout.sid }),
          lifetime: TOKEN_LIFETIME,
          now,
        })
    }
    throw new Dead(`${JSON.stringify(delivery.mode)} is not a relay mode`)
  }

  return async (delivery, secret) => {
    let token: string
    try {
      token = await tokenFor(delivery, secret)
    } catch (err) {
      if (err instanceof Dead) return { outcome: 'dead', error: err.message, sent: false }
      // The signing key could not be read or unsealed: nothing was sent, and a later try may mint it.
      return { outcome: 'retry', error: `the token could not be minted: ${messageOf(err)}`, sent: false }
    }
    const body = new URLSearchParams({ logout_token: token }).toString()
    let answer: Response
    try {
      answer = await post(delivery.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'content-length': String(Buffer.byteLength(body)),
        },
        body,
      })
    } catch (err) {
      return failed(err)
    }
    return classify(answer, deps.now())
  }
}

/** A reason no attempt of this delivery can ever succeed. */
class Dead extends Error {}

/** An error's message, or whatever was thrown as a string. */
export const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err))

/** A request that got no usable answer: refused by the policy or a redirect is dead; anything else is retried. */
function failed(err: unknown): RelayAttemptResult {
  const error = messageOf(err)
  if (
    err instanceof errors.IssuerRedirect ||
    err instanceof errors.IssuerInsecure ||
    err instanceof errors.IssuerAddressForbidden
  ) {
    return { outcome: 'dead', error }
  }
  // Timeouts, refused connections, resets, an answer too large: the relay may do better later.
  return {
    outcome: 'retry',
    error: err instanceof BackchannelError ? error : `the relay could not be reached: ${error}`,
  }
}

/** 2xx delivered; 429 and 5xx retried (`Retry-After` read); any other status dead. */
function classify(answer: Response, now: number): RelayAttemptResult {
  const { status } = answer
  if (status >= 200 && status < 300) return { outcome: 'delivered', status }
  if (status === 429 || status >= 500) {
    const retryAfter = parseRetryAfter(answer.headers.get('retry-after'), now)
    return {
      outcome: 'retry',
      status,
      error: `the relay answered ${status}`,
      ...(retryAfter === undefined ? {} : { retryAfter }),
    }
  }
  return { outcome: 'dead', status, error: `the relay answered ${status}` }
}

/** `Retry-After` as seconds from `now`: delta-seconds or an HTTP date (RFC 9110 §10.2.3); `undefined` if neither. */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null) return undefined
  const text = value.trim()
  if (/^\d+$/.test(text)) return Number(text)
  const at = Date.parse(text)
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil(at / 1000 - now))
}

/**
 * After a failed try (`delivery.attempts`, or `delivery.unsentTries` for a try that sent nothing,
 * already counts it): when to try again, or give up. Waits follow {@link RETRY_SCHEDULE}, indexed by
 * both counts, with ±25 % jitter, or the relay's `Retry-After` when that is longer. `sign`/`hmac`
 * give up after {@link MAX_ATTEMPTS} attempts (unsent tries are none) or {@link MAX_AGE_SECONDS}
 * from `createdAt`; `forward` once the identity provider's token would have expired. A `dead`
 * result is dead now. Times are seconds since epoch; `random` is for tests (default `Math.random`).
 *
 * @example
 * ```ts
 * planRetry({ ...delivery, attempts: 1 }, { outcome: 'retry', status: 503, error: 'the relay answered 503' }, now)
 * // { state: 'pending', nextAttemptAt: now + 0.75…1.25 }
 * ```
 * @throws {TypeError} for a delivered result: there is nothing to plan.
 */
export function planRetry(
  delivery: RelayDelivery,
  result: RelayAttemptResult,
  now: number,
  random: () => number = Math.random,
): { state: 'pending'; nextAttemptAt: number } | { state: 'dead' } {
  if (result.outcome === 'delivered') throw new TypeError('planRetry is for a failed attempt')
  if (result.outcome === 'dead') return { state: 'dead' }
  const tries = delivery.attempts + (delivery.unsentTries ?? 0)
  const step = RETRY_SCHEDULE[Math.min(Math.max(tries, 1), RETRY_SCHEDULE.length) - 1] as number
  const wait = Math.max(step * (1 + JITTER * (2 * random() - 1)), result.retryAfter ?? 0)
  const nextAttemptAt = now + wait
  const expiresAt = delivery.mode === 'forward' ? delivery.logout.expiresAt : undefined
  if (expiresAt !== undefined) {
    return nextAttemptAt < expiresAt ? { state: 'pending', nextAttemptAt } : { state: 'dead' }
  }
  const since = delivery.retriedAt ?? delivery.createdAt
  if (delivery.attempts >= MAX_ATTEMPTS || nextAttemptAt > since + MAX_AGE_SECONDS) {
    return { state: 'dead' }
  }
  return { state: 'pending', nextAttemptAt }
}
