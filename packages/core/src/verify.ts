/**
 * Where a logout token is verified: header rules, then the signature with the application's
 * pinned algorithms and keys, then the claims (see `claims.ts`).
 * @see https://openid.net/specs/openid-connect-backchannel-1_0.html#Validation BCL §2.6
 * @module
 */
import { compactVerify, type JWSHeaderParameters, errors as jose } from 'jose'
import { jsonPayload } from './_internal/json-payload.js'
import { type AppConfig, HMAC_ALGORITHMS, resolvePolicy } from './app.js'
import { checkClaims, type LogoutToken } from './claims.js'
import {
  BackchannelError,
  LogoutTokenAlg,
  LogoutTokenHeader,
  LogoutTokenMalformed,
  LogoutTokenSignature,
  LogoutTokenTyp,
} from './errors.js'
import type { KeyResolver } from './keys.js'

/** Options of {@link createLogoutVerifier}. */
export interface LogoutVerifierOptions {
  /** Resolves OIDC applications' keys; share one per process (see `createKeyResolver`). */
  keys: KeyResolver
}

/** Options of one verification. */
export interface VerifyOptions {
  /** The current time, seconds since epoch. Default `Date.now() / 1000`. */
  now?: number
}

/** Verifies logout tokens for any registered application. */
export interface LogoutVerifier {
  /**
   * Verifies `token` for `app` and returns its claims.
   * @throws {LogoutTokenInvalid} a subclass naming the rule that failed (answer 400).
   * @throws {KeysUnavailable} the issuer's keys cannot be loaded (answer 503, retry later).
   */
  verify(token: string, app: AppConfig, options?: VerifyOptions): Promise<LogoutToken>
}

const ACCEPTED_TYP = new Set(['jwt', 'logout+jwt', 'application/logout+jwt'])
// Headers that would let the token pick its own key; never followed, so never accepted.
const KEY_HEADERS = ['jku', 'x5u', 'jwk', 'x5c'] as const
const DEFAULT_OIDC_ALGORITHMS = ['RS256'] as const

/**
 * Builds the verifier.
 *
 * @example
 * ```ts
 * import { createKeyResolver, createLogoutVerifier } from '@backchannel/core'
 *
 * const verifier = createLogoutVerifier({ keys: createKeyResolver() })
 * const token = await verifier.verify(logoutToken, {
 *   kind: 'oidc',
 *   name: 'wiki',
 *   issuer: 'https://id.example.com/realms/main',
 *   clientId: 'wiki',
 *   jwksUri: 'https://id.example.com/realms/main/protocol/openid-connect/certs',
 * })
 * token.sid // the IdP session that ended
 * ```
 */
export function createLogoutVerifier(options: LogoutVerifierOptions): LogoutVerifier {
  return {
    async verify(token, app, { now = Date.now() / 1000 } = {}) {
      if (typeof token !== 'string' || token.split('.').length !== 3) {
        throw new LogoutTokenMalformed('the logout token is not a compact JWS (three dot-separated parts)')
      }
      const algorithms: string[] = [
        ...(app.kind === 'oidc' ? (app.algorithms ?? DEFAULT_OIDC_ALGORITHMS) : (app.algorithms ?? HMAC_ALGORITHMS)),
      ]
      // jose parses the header once and hands it here (after refusing algorithms not listed):
      // the header rules and the key lookup run on that parse. Further candidate keys (several
      // key-set entries without kid, a secret in rotation) are tried only if the first fails.
      let others: VerificationKey[] = []
      const firstKey = async (header: JWSHeaderParameters) => {
        checkHeader(header)
        const keys: VerificationKey[] =
          app.kind === 'oidc'
            ? await options.keys.getKeys(app.jwksUri, header)
            : app.secrets.filter((s) => s.notAfter === undefined || s.notAfter >= now).map((s) => s.key)
        const [first, ...rest] = keys
        if (!first) throw new LogoutTokenSignature('no key of this application can verify the token')
        others = rest
        return first
      }
      let payload: Uint8Array
      try {
        payload = (await compactVerify(token, firstKey, { algorithms })).payload
      } catch (err) {
        if (!(err instanceof jose.JWSSignatureVerificationFailed) || others.length === 0) throw asCoded(err, algorithms)
        payload = await verifyWithAny(token, others, algorithms)
      }
      return checkClaims(
        jsonPayload(payload, 'the logout token', LogoutTokenMalformed),
        app,
        resolvePolicy(app.policy),
        now,
      )
    },
  }
}

type VerificationKey = CryptoKey | Uint8Array

/** The header rules jose does not apply itself (it has already refused an alg not pinned). */
function checkHeader(header: JWSHeaderParameters): void {
  if (header.typ !== undefined) {
    if (typeof header.typ !== 'string' || !ACCEPTED_TYP.has(header.typ.toLowerCase())) {
      throw new LogoutTokenTyp('typ header must be absent, JWT, logout+jwt or application/logout+jwt')
    }
  }
  for (const name of KEY_HEADERS) {
    if (name in header)
      throw new LogoutTokenHeader(`the ${name} header is not accepted: keys come only from the application`)
  }
}

async function verifyWithAny(
  token: string,
  keys: readonly VerificationKey[],
  algorithms: string[],
): Promise<Uint8Array> {
  let lastError: unknown
  for (const key of keys) {
    try {
      return (await compactVerify(token, key, { algorithms })).payload
    } catch (err) {
      if (!(err instanceof jose.JWSSignatureVerificationFailed)) throw asCoded(err, algorithms)
      lastError = err
    }
  }
  throw new LogoutTokenSignature('the signature does not verify', { cause: lastError })
}

/** A jose error as the coded error it means (wrapped once; ours pass through). */
function asCoded(err: unknown, algorithms: readonly string[]): BackchannelError {
  if (err instanceof BackchannelError) return err
  if (err instanceof jose.JWSSignatureVerificationFailed) {
    return new LogoutTokenSignature('the signature does not verify', { cause: err })
  }
  if (err instanceof jose.JOSEAlgNotAllowed) {
    return new LogoutTokenAlg(`the alg is not accepted for this application (expected ${algorithms.join(', ')})`, {
      cause: err,
    })
  }
  if (err instanceof jose.JWSInvalid) {
    return new LogoutTokenMalformed('the logout token is not a valid JWS', { cause: err })
  }
  return new LogoutTokenSignature('the signature cannot be checked with this key', { cause: err })
}
