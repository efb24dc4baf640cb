/**
 * An application's relays as `apps.create` and `apps.update` set them: every URL checked against
 * the issuer address policy before anything is stored, and a secret for each `hmac` relay (kept
 * when the relay already had one, issued once when it is new).
 */
import type { Relay } from '@backchannel/core'
import { checkFetchTarget } from '@backchannel/core/discovery'
import type { AppRecord } from '@backchannel/unstorage'
import type { AdminContext } from '../trpc.js'
import { newSecret } from './credentials.js'

/** What an application's record gets, and the secrets to show once. */
export interface SettledRelays {
  relays: Relay[]
  relaySecrets: Record<string, string>
  /** Secrets issued by this call, by relay URL. */
  issued: Record<string, string>
}

/** Checks `relays` and settles their secrets against the application's `previous` record. */
export async function settleRelays(
  ctx: AdminContext,
  relays: readonly Relay[],
  previous?: AppRecord,
): Promise<SettledRelays> {
  const check = ctx.deps.checkRelayUrl ?? ((url: URL) => checkFetchTarget(url, 'relay', {}))
  // One at a time: a refusal names the first bad relay, and nothing is stored.
  for (const relay of relays) await check(new URL(relay.url))
  const relaySecrets: Record<string, string> = {}
  const issued: Record<string, string> = {}
  for (const { url, mode } of relays) {
    if (mode !== 'hmac') continue
    const kept = previous?.relays?.some((r) => r.url === url && r.mode === 'hmac') && previous.relaySecrets?.[url]
    const secret = kept || newSecret()
    relaySecrets[url] = secret
    if (!kept) issued[url] = secret
  }
  return {
    relays: relays.map(({ url, mode, clientId }) => ({ url, mode, ...(clientId ? { clientId } : {}) })),
    relaySecrets,
    issued,
  }
}
