/**
 * Whether a claimed token's revocations are recorded: one answer for the logout and the Shared
 * Signals flows, asked when a `jti` is already claimed.
 * @module
 */
import type { RevocationTarget, SessionRevoker } from '../session.js'

/** How long a token whose `jti` is claimed waits for its revocations to be recorded by the claimant, in ms. */
const CLAIMANT_WAIT_MS = 2000

/**
 * The targets of a claimed token whose revocation is not recorded. Not yet: usually the same
 * token is being processed right now (a retry racing the first attempt), so wait for it. Still
 * not, after {@link CLAIMANT_WAIT_MS}: the claimant stopped (a crash, a store that failed between
 * its claim and its revocation, a claim it could not give back), and answering "replayed" would
 * acknowledge a logout that was never stored. A revoker that cannot tell is trusted: none.
 *
 * @example
 * ```ts
 * if ((await unrecorded([target], revoker)).length === 0) return replayed
 * ```
 */
export async function unrecorded(targets: RevocationTarget[], revoker: SessionRevoker): Promise<RevocationTarget[]> {
  const { recorded } = revoker
  if (!recorded) return []
  let pending = targets
  for (let waited = 0, delay = 10; ; waited += delay, delay = Math.min(2 * delay, 500)) {
    const done = await Promise.all(pending.map((target) => recorded.call(revoker, target)))
    pending = pending.filter((_, i) => !done[i])
    if (pending.length === 0 || waited >= CLAIMANT_WAIT_MS) return pending
    await new Promise((resolve) => setTimeout(resolve, delay))
  }
}
