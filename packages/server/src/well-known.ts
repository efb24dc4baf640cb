/**
 * The gateway's issuer documents on the public listener: `/.well-known/openid-configuration`
 * (enough for OpenID Connect discovery by a receiver that trusts the gateway) and
 * `/.well-known/jwks.json` (its signing keys, the retiring ones included).
 * @module
 */
import { errorStatus, errors } from '@backchannel/core'
import type { Logger } from 'pino'
import type { GatewaySigner } from './relay/signer.js'

/** How long receivers may cache either document, in seconds: a rotation reaches them within it. */
const MAX_AGE = 300

/**
 * The provider metadata of the gateway as an issuer of logout tokens. The endpoints it does not
 * serve (authorization, token, userinfo) are left out, as OIDC Discovery allows for a provider
 * that issues no ID tokens through them.
 *
 * @example
 * ```ts
 * providerMetadata('https://gw.example.com').jwks_uri // 'https://gw.example.com/.well-known/jwks.json'
 * ```
 */
export function providerMetadata(issuer: string) {
  return {
    issuer,
    jwks_uri: `${issuer.replace(/\/$/, '')}/.well-known/jwks.json`,
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['ES256'],
    backchannel_logout_supported: true,
    backchannel_logout_session_supported: true,
  }
}

const cached = (body: unknown) => Response.json(body, { headers: { 'cache-control': `public, max-age=${MAX_AGE}` } })

/**
 * The two routes' handlers, for the gateway's router.
 *
 * @example
 * ```ts
 * const wellKnown = createWellKnown('https://gw.example.com', signer, logger)
 * app.get('/.well-known/jwks.json', wellKnown.jwks)
 * ```
 */
export function createWellKnown(issuer: string, signer: GatewaySigner, logger: Logger) {
  const metadata = providerMetadata(issuer)
  return {
    openidConfiguration: () => cached(metadata),
    async jwks() {
      try {
        return cached(await signer.jwks())
      } catch (err) {
        logger.warn({ err }, 'the signing keys could not be read')
        // Whatever failed, the keys live in the store: answered as the store being unavailable.
        const { status, retryAfter } = errorStatus(new errors.StoreUnavailable('the signing keys cannot be read'))
        return Response.json(
          { error: 'temporarily_unavailable' },
          { status, headers: { 'retry-after': String(retryAfter), 'cache-control': 'no-store' } },
        )
      }
    },
  }
}
