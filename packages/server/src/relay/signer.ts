/**
 * The gateway as an issuer: signs relayed logout tokens with its current ES256 key and publishes
 * its keys for `/.well-known/jwks.json`. Keys are read from the store and cached for a few
 * seconds, so a rotation made by another instance is noticed within that time.
 * @module
 */
import type { SigningKey, SigningKeyStore } from '@backchannel/unstorage'
import { importJWK, type JWK, type JWTPayload, SignJWT } from 'jose'

/** A published key set (RFC 7517). */
export interface JsonWebKeySet {
  keys: JWK[]
}

/** Signs as the gateway and publishes its keys. */
export interface GatewaySigner {
  /**
   * A compact JWS of `claims`, header `{ alg: 'ES256', kid, typ: 'logout+jwt' }`, by the current
   * key once it is older than the cache time (so every instance publishes it), else by the previous.
   */
  sign(claims: JWTPayload): Promise<string>
  /** The published keys: the current one, then those still in their grace. */
  jwks(): Promise<JsonWebKeySet>
  /** Reads the keys again at the next call (after this instance rotated them). */
  refresh(): void
}

/** Options of {@link createGatewaySigner}. */
export interface GatewaySignerOptions {
  keys: SigningKeyStore
  /** Seconds keys are cached: how long a rotation by another instance may go unnoticed. Default 10. */
  cacheSeconds?: number
  /** The clock, seconds since epoch. */
  now?: () => number
}

interface Loaded {
  at: number
  kid: string
  privateKey: CryptoKey | Uint8Array
  keys: SigningKey[]
}

/**
 * Builds the signer over the store's signing keys; the first key is generated on first use
 * (`backchannel serve` does it at start).
 *
 * @example
 * ```ts
 * import { memoryStore } from '@backchannel/unstorage/memory'
 * const signer = createGatewaySigner({ keys: memoryStore().keys })
 * const token = await signer.sign({ iss: 'https://gw.example.com', aud: 'billing', sub: 'alice' })
 * const { keys } = await signer.jwks() // keys[0].kid is the kid in token's header
 * ```
 */
export function createGatewaySigner(options: GatewaySignerOptions): GatewaySigner {
  const now = options.now ?? (() => Date.now() / 1000)
  const cacheSeconds = options.cacheSeconds ?? 10
  let loaded: Loaded | undefined
  let loading: Promise<Loaded> | undefined

  async function load(): Promise<Loaded> {
    const at = now()
    const keys = await options.keys.ensure()
    // A new key signs once every instance publishes it (each reads the keys again within
    // cacheSeconds): until then the previous key, while it is still published, signs instead.
    const [newest, previous] = keys as [SigningKey, SigningKey | undefined]
    const current = previous && newest.createdAt > at - cacheSeconds ? previous : newest
    // Imported once per key, not per signature.
    const privateKey =
      loaded?.kid === current.kid ? loaded.privateKey : await importJWK(current.privateJwk as JWK, 'ES256')
    loaded = { at, kid: current.kid, privateKey, keys }
    return loaded
  }

  function fresh(): Promise<Loaded> {
    if (loaded && now() - loaded.at < cacheSeconds) return Promise.resolve(loaded)
    // One read of the store at a time, however many tokens wait for it.
    loading ??= load().finally(() => {
      loading = undefined
    })
    return loading
  }

  return {
    async sign(claims) {
      const { kid, privateKey } = await fresh()
      return new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid, typ: 'logout+jwt' }).sign(privateKey)
    },
    async jwks() {
      const t = now()
      const { keys } = await fresh()
      return {
        keys: keys
          .filter((key) => key.retiresAt === undefined || key.retiresAt > t)
          .map(({ kid, publicJwk }) => ({ ...(publicJwk as JWK), kid, alg: 'ES256', use: 'sig' })),
      }
    },
    refresh() {
      loaded = undefined
    },
  }
}
