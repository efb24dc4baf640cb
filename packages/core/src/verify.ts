/**
 * Where a logout token is verified: header rules, then the signature with the application's
 * pinned algorithms and keys, then the claims (see `claims.ts`). Its pipeline ({@link verifyJws})
 * serves Security Event Tokens too, with their own profile (see `set.ts`).
 * @see https://openid.net/specs/openid-connect-backchannel-1_0.html#Validation BCL §2.6
 * @module
 */
import { compactVerify, decodeJwt, type JWSHeaderParameters, errors as jose } from 'jose'
import { jsonPayload } from './_internal/json-payload.js'
import { type AppConfig, HMAC_ALGORITHMS, resolvePolicy } from './app.js'
import { checkClaims, type LogoutToken } from './claims.js'
import {
  BackchannelError,
  KeysUnavailable,
  LogoutTokenAlg,
  LogoutTokenHeader,
  LogoutTokenMalformed,
  LogoutTokenSignature,
  LogoutTokenTyp,
} from './errors.js'
import { KeyNotRefetched, type KeyResolver } from './keys.js'

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
   * @throws {KeysUnavailable} the issuer's keys cannot be loaded, or the token is newer than the
   *   key set and names a key not in it while the set may not be fetched again (answer 503, retry later).
   */
  verify(token: string, app: AppConfig, options?: VerifyOptions): Promise<LogoutToken>
}

const DEFAULT_OIDC_ALGORITHMS = ['RS256'] as const

/** The logout token's profile of {@link verifyJws}. */
const LOGOUT_TOKEN: TokenProfile = {
  what: 'the logout token',
  typ: { accepted: new Set(['jwt', 'logout+jwt', 'application/logout+jwt']), required: false },
  typRule: 'typ header must be absent, JWT, logout+jwt or application/logout+jwt',
  keySource: 'the application',
  Malformed: LogoutTokenMalformed,
  Typ: LogoutTokenTyp,
  Header: LogoutTokenHeader,
  Signature: LogoutTokenSignature,
  Alg: LogoutTokenAlg,
  Key: LogoutTokenSignature,
}

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
      const algorithms: string[] = [
        ...(app.kind === 'oidc' ? (app.algorithms ?? DEFAULT_OIDC_ALGORITHMS) : (app.algorithms ?? HMAC_ALGORITHMS)),
      ]
      const keysOf = async (header: JWSHeaderParameters) =>
        app.kind === 'oidc'
          ? await options.keys.getKeys(app.jwksUri, header)
          : app.secrets.filter((s) => s.notAfter === undefined || s.notAfter >= now).map((s) => s.key)
      const claims = await verifyJws(token, algorithms, keysOf, LOGOUT_TOKEN)
      return checkClaims(claims, app, resolvePolicy(app.policy), now)
    },
  }
}

/** A key a token may be verified with: a public key, or an HMAC secret. */
export type VerificationKey = CryptoKey | Uint8Array

type CodedError = new (message: string, options?: { cause?: unknown }) => BackchannelError

/**
 * What differs between the tokens {@link verifyJws} checks (logout tokens, Security Event
 * Tokens): their `typ` rule, and the coded error each refusal is.
 */
export interface TokenProfile {
  /** How messages name the token: "the logout token", "the SET". */
  what: string
  /** Accepted `typ` values, lower-case; `required`: a token without `typ` is refused. */
  typ: { accepted: ReadonlySet<string>; required: boolean }
  /** The message of a refused `typ`. */
  typRule: string
  /** Where keys come from, for the refusal of a key header: "the application", "the jwks_uri". */
  keySource: string
  Malformed: CodedError
  Typ: CodedError
  /** A header that would let the token pick its own key (`jku`, `x5u`, `jwk`, `x5c`), or an unknown `crit` extension. */
  Header: CodedError
  Signature: CodedError
  Alg: CodedError
  /** No key, or no usable key, to verify with (a key resolver's refusal becomes this). */
  Key: CodedError
}

// Headers that would let the token pick its own key; never followed, so never accepted.
const KEY_HEADERS = ['jku', 'x5u', 'jwk', 'x5c'] as const

/**
 * The one verification pipeline of signed tokens: compact form, header rules (`typ`, no key
 * headers), the signature with the pinned `algorithms` and each candidate key of `keysOf`, then
 * the payload as a JSON object. Claims are the caller's to check.
 *
 * @throws the profile's coded errors, or what `keysOf` throws (a resolver's
 *   {@link LogoutTokenSignature} becomes the profile's `Key`; its {@link KeyNotRefetched} for a
 *   token issued after the key set was fetched becomes {@link KeysUnavailable}).
 * @example
 * ```ts
 * const claims = await verifyJws(token, ['RS256'], (header) => keys.getKeys(jwksUri, header), profile)
 * ```
 */
export async function verifyJws(
  token: string,
  algorithms: string[],
  keysOf: (header: JWSHeaderParameters) => Promise<VerificationKey[]>,
  profile: TokenProfile,
): Promise<Record<string, unknown>> {
  if (typeof token !== 'string' || token.split('.').length !== 3) {
    throw new profile.Malformed(`${profile.what} is not a compact JWS (three dot-separated parts)`)
  }
  // jose parses the header once and hands it here (after refusing algorithms not listed): the
  // header rules and the key lookup run on that parse. Further candidate keys (several key-set
  // entries without kid, a secret in rotation) are tried only if the first fails.
  let others: VerificationKey[] = []
  let headerRead = false
  const firstKey = async (header: JWSHeaderParameters) => {
    headerRead = true
    checkHeader(header, profile)
    const [first, ...rest] = await keysOf(header).catch((err: unknown) => {
      throw notYetFetched(err, token, profile) ?? err
    })
    if (!first) throw new profile.Key(`no key of ${profile.keySource} can verify ${profile.what}`)
    others = rest
    return first
  }
  let payload: Uint8Array
  try {
    payload = (await compactVerify(token, firstKey, { algorithms })).payload
  } catch (err) {
    if (!(err instanceof jose.JWSSignatureVerificationFailed) || others.length === 0) {
      throw asCoded(err, algorithms, profile, headerRead)
    }
    payload = await verifyWithAny(token, others, algorithms, profile)
  }
  return jsonPayload(payload, profile.what, profile.Malformed)
}

/**
 * An unknown key refused only because the key set's refetch cooldown was armed (anyone can arm
 * it, with one random-`kid` token every cooldown), for a token issued after the key set was
 * fetched: its key may have been published since. IdPs and transmitters do not retry a 400, so
 * the sender is asked to retry (503) once the set may be fetched again.
 */
function notYetFetched(err: unknown, token: string, profile: TokenProfile): KeysUnavailable | undefined {
  if (!(err instanceof KeyNotRefetched)) return undefined
  let iat: unknown
  try {
    iat = decodeJwt(token).iat // not verified yet: it only picks between two refusals
  } catch {
    return undefined
  }
  if (typeof iat !== 'number' || iat <= err.fetchedAt) return undefined
  const { retryAfter } = err
  return new KeysUnavailable(
    `${profile.what}'s key is not in the key set as last fetched; it is fetched again in ${retryAfter} s`,
    { cause: err, retryAfter },
  )
}

/** The header rules jose does not apply itself (it has already refused an alg not pinned). */
function checkHeader(header: JWSHeaderParameters, profile: TokenProfile): void {
  const { typ } = header
  if (typ !== undefined || profile.typ.required) {
    if (typeof typ !== 'string' || !profile.typ.accepted.has(typ.toLowerCase())) throw new profile.Typ(profile.typRule)
  }
  for (const name of KEY_HEADERS) {
    if (name in header) {
      throw new profile.Header(`the ${name} header is not accepted: keys come only from ${profile.keySource}`)
    }
  }
}

async function verifyWithAny(
  token: string,
  keys: readonly VerificationKey[],
  algorithms: string[],
  profile: TokenProfile,
): Promise<Uint8Array> {
  let lastError: unknown
  for (const key of keys) {
    try {
      return (await compactVerify(token, key, { algorithms })).payload
    } catch (err) {
      if (!(err instanceof jose.JWSSignatureVerificationFailed)) throw asCoded(err, algorithms, profile, true)
      lastError = err
    }
  }
  throw new profile.Signature('the signature does not verify', { cause: lastError })
}

/**
 * A jose error as the coded error it means (wrapped once; ours pass through). `headerRead`: jose
 * had handed over the header (to look up its key).
 */
function asCoded(
  err: unknown,
  algorithms: readonly string[],
  profile: TokenProfile,
  headerRead: boolean,
): BackchannelError {
  // A key resolver refuses with the logout token's class; another profile names it its own way.
  if (err instanceof LogoutTokenSignature && profile.Key !== LogoutTokenSignature) {
    return new profile.Key(err.message, { cause: err })
  }
  if (err instanceof BackchannelError) return err
  if (err instanceof jose.JWSSignatureVerificationFailed) {
    return new profile.Signature('the signature does not verify', { cause: err })
  }
  if (err instanceof jose.JOSEAlgNotAllowed) {
    return new profile.Alg(`the alg is not accepted here (expected ${algorithms.join(', ')})`, { cause: err })
  }
  if (err instanceof jose.JWSInvalid) {
    return new profile.Malformed(`${profile.what} is not a valid JWS`, { cause: err })
  }
  // Before it hands over the header, jose refuses as unsupported only a crit extension (RFC 7515 §4.1.11).
  if (err instanceof jose.JOSENotSupported && !headerRead) {
    return new profile.Header('the crit header lists an extension that is not supported', { cause: err })
  }
  return new profile.Key(`the key cannot verify ${profile.what}`, { cause: err })
}
