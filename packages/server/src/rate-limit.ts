/**
 * Throttling of **failed** logout requests, per client address and per application. A request
 * is always verified first: a valid logout is answered 200 however many failures came before
 * it (an IdP's mass sign-out is never throttled); a failure past the limit is answered 429 with
 * Retry-After instead of 400, and is not written to the audit log (a flood of forged tokens
 * must not fill the storage). Counters are per instance, in fixed windows. IPv6 clients are
 * counted by their /64 ({@link addressKey}).
 */
import { isAppName } from '@backchannel/admin'
import { errors } from '@backchannel/core'
import { addressKey } from './client-address.js'

/** Limits on failed logout requests, per client address and per application. */
export interface FailureLimits {
  /** Failures allowed per client address (an IPv6 client: per /64) per window. Default 30. */
  perAddress?: number
  /** Failures allowed per application per window. Default 300. */
  perApp?: number
  /** Window length in seconds. Default 60. */
  window?: number
}

/** Counts failures in fixed windows. */
export interface FailureLimiter {
  /**
   * Counts a failure against `address` and against `key` (what was asked for: `app:NAME`,
   * `stream:NAME`, `/admin`); returns the seconds to wait when a limit is now exceeded.
   */
  fail(address: string, key: string): number | undefined
}

/** Builds a limiter; at most `maxKeys` counters are kept (the oldest is dropped). */
export function createFailureLimiter(limits: FailureLimits, now: () => number, maxKeys = 50_000): FailureLimiter {
  const window = limits.window ?? 60
  const counters = new Map<string, { count: number; resetAt: number }>()
  const count = (key: string, limit: number): number | undefined => {
    const t = now()
    let counter = counters.get(key)
    if (!counter || counter.resetAt <= t) {
      if (!counter && counters.size >= maxKeys) counters.delete(counters.keys().next().value as string)
      counter = { count: 0, resetAt: t + window }
      counters.set(key, counter)
    }
    counter.count++
    return counter.count > limit ? Math.max(1, Math.ceil(counter.resetAt - t)) : undefined
  }
  return {
    fail(address, key) {
      const byAddress = count(`a\n${addressKey(address)}`, limits.perAddress ?? 30)
      const byApp = count(`p\n${key}`, limits.perApp ?? 300)
      return byAddress === undefined ? byApp : Math.max(byAddress, byApp ?? 0)
    },
  }
}

// Failures a client caused: these count towards the limits (401: a wrong Authorization on /ssf).
const CLIENT_FAILURES = new Set([400, 401, 404, 405, 413])

/**
 * Counts an answer against `address` and `key` when it is a failure the client caused, for the
 * logout and the Shared Signals routes alike. A 503 that the token's unknown key brought about
 * counts too (asked to retry as the key set is not fetched again within its cooldown): it would
 * otherwise be a way round the limits. A 503 for an issuer whose key set cannot be fetched does not.
 * @returns seconds to wait when that crossed a limit (answer 429 instead), else `undefined`.
 *
 * @example
 * ```ts
 * const retryAfter = countFailure(limiter, outcome, caller.address, `app:${outcome.app}`)
 * if (retryAfter !== undefined) outcome = failure(outcome.app, new errors.RateLimited(retryAfter))
 * ```
 */
export function countFailure(
  limiter: FailureLimiter,
  outcome: { status: number; error?: Error | undefined },
  address: string,
  key: string,
) {
  const { error } = outcome
  const unknownKey = error instanceof errors.KeysUnavailable && error.cause instanceof errors.LogoutTokenSignature
  const caused = CLIENT_FAILURES.has(outcome.status) || unknownKey
  return caused ? limiter.fail(address, key) : undefined
}

/**
 * The name in a route's path segment (`raw`, still percent-encoded), or the refusal to answer
 * instead: invalid percent-encoding (400), or a name the admin API would refuse (`unknown()`, a
 * 404 that does not echo it): such a name is never looked up, cached, counted under, or logged.
 *
 * @example
 * ```ts
 * pathName('wiki%2Dtest', 'application', noAppHere) // 'wiki-test'; pathName('%E0', …): an InvalidRequest
 * ```
 */
export function pathName(
  raw: string,
  what: 'application' | 'stream',
  unknown: () => errors.BackchannelError,
): string | errors.BackchannelError {
  let name: string
  try {
    name = decodeURIComponent(raw)
  } catch {
    return new errors.InvalidRequest(`the ${what} name in the path is not valid percent-encoding`)
  }
  return isAppName(name) ? name : unknown()
}
