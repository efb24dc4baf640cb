/**
 * Key resolution for OIDC applications: one cached key set per `jwks_uri`, shared by every
 * application of that issuer.
 * @module
 */
import { createLocalJWKSet, type JSONWebKeySet, type JWSHeaderParameters, errors as jose } from 'jose'
import { createWebFetch, type GuardedFetch, type IssuerFetchPolicy } from './_internal/issuer-fetch.js'
import { IssuerUnreachable, KeysUnavailable, LogoutTokenSignature } from './errors.js'

type LocalKeySet = ReturnType<typeof createLocalJWKSet>
type VerificationKey = Awaited<ReturnType<LocalKeySet>>

/** Options of {@link createKeyResolver}. */
export interface KeyResolverOptions {
  /**
   * How requests to issuers are guarded (https only, public addresses, timeout, size cap), when
   * `fetch` is not given. The default fetch is the runtime's own: it refuses address literals and
   * `localhost` names that are not public, but cannot check what a host name resolves to, nor use
   * a proxy (it throws `ERR_PROXY_INVALID` if asked to): on Node, pass `fetch` as below.
   */
  fetchPolicy?: IssuerFetchPolicy
  /**
   * Minimum seconds between two fetches of one key set caused by an unknown `kid`, or retrying
   * one that could not be loaded while none is cached. Default 30.
   */
  cooldown?: number
  /** Seconds a fetched key set is used before it is fetched again. Default 600. */
  maxAge?: number
  /** The clock, seconds since epoch. Default `Date.now() / 1000`. */
  now?: () => number
  /** Called once per HTTP fetch of a key set (for metrics), with its outcome. */
  onFetch?: (event: { jwksUri: string; ok: boolean }) => void
  /**
   * The fetch of key sets, used as given. On Node, `createGuardedFetch(policy)` of
   * `@backchannel/core/discovery` adds the check of resolved addresses and the proxy; elsewhere, a
   * fetch of your platform's (a Worker's service binding, a fetch with your own egress rules).
   */
  fetch?: GuardedFetch
}

/** Finds the keys that may have signed a token. */
export interface KeyResolver {
  /**
   * The candidate keys of `jwksUri` for a token's protected header (usually one; several when
   * the set has more than one key of that type without a `kid`).
   * @throws {LogoutTokenSignature} when no key matches, even after a refetch.
   * @throws {KeysUnavailable} when the key set cannot be fetched and none is cached (without
   *   fetching, with `retryAfter`, while the cooldown of the last attempt holds).
   */
  getKeys(jwksUri: string, header: JWSHeaderParameters): Promise<VerificationKey[]>
  /** Forgets cached keys (all, or one `jwks_uri`'s), e.g. after an application is rediscovered. */
  forget(jwksUri?: string): void
}

/**
 * Builds a key resolver. Keep one per process: sharing it is what makes the unknown-`kid`
 * cooldown hold for every application of an issuer.
 *
 * @example
 * ```ts
 * const keys = createKeyResolver({ cooldown: 30 }) // any runtime: the runtime's fetch
 * const verifier = createLogoutVerifier({ keys })
 * // On Node, with the check of resolved addresses and the proxy:
 * import { proxyFromEnv } from '@backchannel/core'
 * import { createGuardedFetch } from '@backchannel/core/discovery'
 * const guarded = createKeyResolver({ fetch: createGuardedFetch({ proxy: proxyFromEnv() }) })
 * ```
 */
export function createKeyResolver(options: KeyResolverOptions = {}): KeyResolver {
  const fetch = options.fetch ?? createWebFetch(options.fetchPolicy)
  const now = options.now ?? (() => Date.now() / 1000)
  const cooldown = options.cooldown ?? 30
  const maxAge = options.maxAge ?? 600
  const sets = new Map<string, RemoteKeySet>()

  return {
    getKeys(jwksUri, header) {
      let set = sets.get(jwksUri)
      if (!set) {
        set = new RemoteKeySet(jwksUri, fetch, now, cooldown, maxAge, options.onFetch)
        sets.set(jwksUri, set)
      }
      return set.getKeys(header)
    },
    forget(jwksUri) {
      if (jwksUri === undefined) sets.clear()
      else sets.delete(jwksUri)
    },
  }
}

/**
 * A {@link KeyResolver.getKeys} refusal made without fetching the key set again, as its refetch
 * cooldown was armed (by any token of that `jwks_uri`, a logout token's too). A token issued
 * after `fetchedAt` may be signed by a key published since: the verifiers (logout tokens and
 * SETs alike) ask for a retry rather than refusing it for good.
 *
 * @example
 * ```ts
 * if (err instanceof KeyNotRefetched && iat > err.fetchedAt) retryIn(err.retryAfter)
 * ```
 */
export class KeyNotRefetched extends LogoutTokenSignature {
  constructor(
    message: string,
    /** When the key set held was fetched, seconds since epoch. */
    readonly fetchedAt: number,
    /** Seconds until the key set may be fetched again. */
    readonly retryAfter: number,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}

class RemoteKeySet {
  #local: LocalKeySet | undefined
  #fetchedAt = Number.NEGATIVE_INFINITY
  #attemptedAt = Number.NEGATIVE_INFINITY
  #pending: Promise<void> | undefined

  constructor(
    readonly uri: string,
    readonly fetch: GuardedFetch,
    readonly now: () => number,
    readonly cooldown: number,
    readonly maxAge: number,
    readonly onFetch?: KeyResolverOptions['onFetch'],
  ) {}

  async getKeys(header: JWSHeaderParameters): Promise<VerificationKey[]> {
    // The cached set is tried first: a refetch in flight (up to the fetch timeout) is waited for
    // only when nothing is cached or nothing cached matches.
    if (!this.#local) {
      // Nothing cached: an issuer whose key set fails is asked again once per cooldown, not once
      // per token (any junk token would otherwise cost an outbound fetch).
      if (!this.#pending && this.#coolingDown()) {
        const retryAfter = this.#retryAfter()
        throw new KeysUnavailable(`the issuer's key set could not be loaded; it is fetched again in ${retryAfter} s`, {
          retryAfter,
        })
      }
      await this.#reload()
    } else if (this.now() - this.#fetchedAt > this.maxAge && !this.#coolingDown()) {
      // A failed refresh keeps serving the keys we have: an IdP's JWKS blip must not fail logouts.
      await this.#reload().catch(() => {})
    }
    try {
      return await this.#select(header)
    } catch (err) {
      // An unknown kid may be a key the issuer just rotated in: look again, in the refetch in
      // flight or in a new one at most once per cooldown, so a flood of random kids costs one fetch.
      if (!(err instanceof LogoutTokenSignature)) throw err
      if (!this.#pending && this.#coolingDown()) {
        throw new KeyNotRefetched(err.message, this.#fetchedAt, this.#retryAfter(), { cause: err.cause })
      }
      await this.#reload() // joins the refetch in flight, if any
      return this.#select(header)
    }
  }

  #coolingDown(): boolean {
    return this.now() - this.#attemptedAt < this.cooldown
  }

  /** Whole seconds until the cooldown ends (at least 1): the `Retry-After` of a refusal it caused. */
  #retryAfter(): number {
    return Math.max(1, Math.ceil(this.cooldown - (this.now() - this.#attemptedAt)))
  }

  async #select(header: JWSHeaderParameters): Promise<VerificationKey[]> {
    const local = this.#local
    if (!local) throw new KeysUnavailable('no keys are cached for this issuer')
    try {
      return [await local(header)]
    } catch (err) {
      if (err instanceof jose.JWKSMultipleMatchingKeys) {
        const keys: VerificationKey[] = []
        for await (const key of err as unknown as AsyncIterable<VerificationKey>) keys.push(key)
        return keys
      }
      if (err instanceof jose.JWKSNoMatchingKey) {
        throw new LogoutTokenSignature("no key in the issuer's key set matches the token's kid and alg", { cause: err })
      }
      throw new LogoutTokenSignature("the issuer's matching key cannot verify this token", { cause: err })
    }
  }

  #reload(): Promise<void> {
    this.#pending ??= this.#fetchKeys().finally(() => {
      this.#pending = undefined
    })
    return this.#pending
  }

  async #fetchKeys(): Promise<void> {
    this.#attemptedAt = this.now()
    let ok = false
    try {
      const response = await this.fetch(this.uri, {
        headers: { accept: 'application/jwk-set+json, application/json' },
      })
      if (response.status !== 200) {
        throw new IssuerUnreachable(`${this.uri} answered HTTP ${response.status}`)
      }
      const jwks = (await response.json()) as JSONWebKeySet
      this.#local = createLocalJWKSet(jwks)
      this.#fetchedAt = this.now()
      ok = true
    } catch (err) {
      // The message is the 503's description, seen by whoever posted the token: the URL stays in the cause, for the logs.
      throw new KeysUnavailable("the issuer's key set could not be loaded", { cause: err })
    } finally {
      this.onFetch?.({ jwksUri: this.uri, ok })
    }
  }
}
