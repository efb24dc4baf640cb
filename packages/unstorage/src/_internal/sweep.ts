/**
 * Expiry for drivers that ignore `ttl` (memory, fs): a background sweep that removes records
 * whose `until` has passed. Reads already ignore them; this only reclaims space.
 */
import type { Storage } from 'unstorage'

export function startSweeper(
  storage: Storage,
  now: () => number,
  intervalSeconds: number,
  also?: () => Promise<void>,
): () => void {
  let running = false
  const sweep = async () => {
    if (running) return
    running = true
    try {
      const t = now()
      for (const key of await storage.getKeys()) {
        const value = await storage.getItem<{ until?: unknown }>(key)
        if (value && typeof value === 'object' && typeof value.until === 'number' && value.until <= t) {
          await storage.removeItem(key)
        }
      }
      await also?.()
    } catch {
      // The next sweep tries again; reads never depend on it.
    } finally {
      running = false
    }
  }
  const timer = setInterval(sweep, intervalSeconds * 1000)
  timer.unref()
  return () => clearInterval(timer)
}
