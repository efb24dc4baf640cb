/**
 * The gateway's own signing keys (ES256), which sign the logout tokens it relays in `sign` mode.
 * Each key is one record, its private part sealed under the master key; records are only ever
 * added (and pruned once retired), so instances rotating at once never overwrite each other.
 * Which key is current, and when the others retire, is derived from the records alone.
 * @module
 */
import { createHash, generateKeyPairSync, type JsonWebKey } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { errors } from '@backchannel/core'
import { FOREVER, h, keys } from './_internal/keys.js'
import { open, seal } from './_internal/seal.js'
import type { StoreBackend } from './backend.js'
import type { SigningKey, SigningKeyStore } from './gateway-store.js'

interface StoredKey {
  kid: string
  /** Seconds since epoch. */
  createdAt: number
  /** Seconds the keys older than this one stay published once it exists. */
  graceSeconds: number
  publicJwk: JsonWebKey
  /** The private JWK, sealed (seal.ts) with the record's kid as context. */
  sealed: string
}

const SET = 'signing-keys'
const PREFIX = 'gk:'
const FIRST_KEY_CLAIM = 'signing-key\nfirst'
/** Seconds the first-key claim holds: long enough to write one key, short enough that a crash mid-way unblocks. */
const FIRST_KEY_CLAIM_SECONDS = 10
const FIRST_KEY_WAIT_MS = 100
const FIRST_KEY_TRIES = 150

/** RFC 7638 thumbprint of a P-256 public key: a kid every holder of the key computes alike. */
function thumbprint(jwk: JsonWebKey): string {
  const canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y })
  return createHash('sha256').update(canonical).digest('base64url')
}

/** The signing-key store over a backend; private parts sealed under `masterKey`. */
export function createSigningKeyStore(
  backend: StoreBackend,
  masterKey: Uint8Array,
  now: () => number,
): SigningKeyStore {
  const context = (kid: string) => `signing-key\n${kid}`

  async function readAll(): Promise<StoredKey[]> {
    const { members } = await backend.readIndex(SET, PREFIX)
    return members
      .flatMap(({ value }) => (value ? [value as StoredKey] : []))
      .sort((a, b) => b.createdAt - a.createdAt || (a.kid < b.kid ? 1 : -1))
  }

  /** Newest first; each older key retires at the earliest end of grace among the keys newer than it. */
  function withStates(stored: StoredKey[]): (StoredKey & { retiresAt?: number })[] {
    let retiresAt = Number.POSITIVE_INFINITY
    return stored.map((key, i) => {
      const dated = i === 0 ? key : { ...key, retiresAt }
      retiresAt = Math.min(retiresAt, key.createdAt + key.graceSeconds)
      return dated
    })
  }

  async function list(): Promise<SigningKey[]> {
    const t = now()
    return withStates(await readAll())
      .filter((key) => key.retiresAt === undefined || key.retiresAt > t)
      .map(({ kid, createdAt, publicJwk, sealed, retiresAt }) => ({
        kid,
        alg: 'ES256' as const,
        createdAt,
        publicJwk,
        privateJwk: JSON.parse(Buffer.from(open(masterKey, sealed, context(kid))).toString()) as JsonWebKey,
        ...(retiresAt === undefined ? { state: 'current' as const } : { state: 'retiring' as const, retiresAt }),
      }))
  }

  async function add(graceSeconds: number): Promise<string> {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const publicJwk = publicKey.export({ format: 'jwk' })
    const kid = thumbprint(publicJwk)
    const privateJwk = Buffer.from(JSON.stringify(privateKey.export({ format: 'jwk' })))
    const record: StoredKey = {
      kid,
      createdAt: now(),
      graceSeconds,
      publicJwk,
      sealed: seal(masterKey, privateJwk, context(kid)),
    }
    // The record before its index entry: a reader never finds an entry without its key.
    await backend.storage.setItem(PREFIX + h(kid), record as never)
    await backend.addMember(SET, h(kid), now() + FOREVER)
    return kid
  }

  /** Removes the records of keys whose grace has ended. */
  async function prune(): Promise<void> {
    const t = now()
    const gone = withStates(await readAll()).filter((k) => k.retiresAt !== undefined && k.retiresAt <= t)
    for (const { kid } of gone) await backend.storage.removeItem(PREFIX + h(kid))
    if (gone.length > 0)
      await backend.removeMembers(
        SET,
        gone.map(({ kid }) => h(kid)),
      )
  }

  return {
    list,
    async ensure() {
      for (let tries = 0; tries < FIRST_KEY_TRIES; tries++) {
        const found = await list()
        if (found.length > 0) return found
        // One instance generates the first key; the others wait for it to appear. The winner looks
        // again under the claim (another may have made the key and let go since) and lets go once
        // the key is indexed, so no claim outlives the start.
        const claim = keys.claim(FIRST_KEY_CLAIM)
        if (await backend.claim(claim, now() + FIRST_KEY_CLAIM_SECONDS, now())) {
          try {
            if ((await list()).length === 0) await add(0)
          } finally {
            await backend.release(claim)
          }
          return list()
        }
        await sleep(FIRST_KEY_WAIT_MS)
      }
      throw new errors.StoreUnavailable(
        'no signing key appeared: another instance claimed the first one but wrote none',
      )
    },
    async rotate(graceSeconds) {
      const kid = await add(graceSeconds)
      await prune()
      return kid
    },
  }
}
