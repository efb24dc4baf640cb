/**
 * Replay protection: a logout token's `jti` is claimed once, so that a resent token answers
 * 200 without ending sessions a second time (BCL §2.5).
 * @module
 */

/**
 * Claims keys atomically. Exactly one of any number of concurrent `claim` calls for the same
 * key returns `true` until `expiresAt` has passed, across every process sharing the store.
 *
 * @example
 * ```ts
 * if (await replay.claim(replayKey('my-app', iss, jti), exp + 60)) {
 *   // first time this token is seen
 * }
 * ```
 */
export interface ReplayStore {
  /**
   * @param key an opaque key (see {@link replayKey}); implementations must not parse it.
   * @param expiresAt seconds since epoch after which the key may be claimed again.
   * @returns `true` for the one caller that claimed the key, `false` for every other.
   * @throws {StoreUnavailable} when the store cannot be reached.
   */
  claim(key: string, expiresAt: number): Promise<boolean>
  /**
   * Gives a claim back, because the logout it guarded could not be completed: the IdP's retry
   * must then run it rather than be taken for a replay.
   */
  release(key: string): Promise<void>
}

/**
 * The replay key of a token: (app, iss, jti), each part length-prefixed so that no choice of
 * claim values can collide with another.
 */
export function replayKey(app: string, iss: string, jti: string): string {
  return `${app.length}:${app}|${iss.length}:${iss}|${jti}`
}
