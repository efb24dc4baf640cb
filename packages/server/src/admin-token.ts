/**
 * The admin token: from BACKCHANNEL_ADMIN_TOKEN, or generated once per store at first start,
 * shown once, and kept only as a hash (shared by every instance of a shared store).
 */

import { hashToken, newAdminToken } from '@backchannel/admin'
import type { GatewayStore } from '@backchannel/unstorage'

const SETTING = 'admin-token-sha256'

/** The admin token's hash, and the token itself when this call generated it (print it once). */
export async function resolveAdminToken(
  store: GatewayStore,
  fromEnv: string | undefined,
): Promise<{ hash: string; generated?: string }> {
  if (fromEnv !== undefined) return { hash: hashToken(fromEnv) }
  const existing = await store.settings.get(SETTING)
  if (existing) return { hash: existing }
  const token = newAdminToken()
  if (await store.settings.setIfAbsent(SETTING, hashToken(token))) return { hash: hashToken(token), generated: token }
  // Another instance generated one at the same moment: it printed it, use its hash.
  return { hash: (await store.settings.get(SETTING)) as string }
}
