/**
 * Applications cached for the hot path. Each entry (also "no such app") lives `ttl` seconds, so
 * a change made through another instance is seen within that time; a change made here is seen
 * at once.
 */
import type { AppRegistry } from '@backchannel/core'
import type { AppRecord, AppStore } from '@backchannel/unstorage'

/** An application registry with a short-lived in-memory cache in front. */
export interface AppCache extends AppRegistry {
  get(name: string): Promise<AppRecord | undefined>
  /** Drops one application (or all) from the cache. */
  invalidate(name?: string): void
}

/** Caches `apps.get` for `ttl` seconds per name, misses included. */
export function createAppCache(apps: AppStore, ttl: number, now: () => number, maxEntries = 10_000): AppCache {
  const cache = new Map<string, { app: AppRecord | undefined; until: number }>()
  const pending = new Map<string, Promise<AppRecord | undefined>>()
  return {
    async get(name) {
      const hit = cache.get(name)
      if (hit && hit.until > now()) return hit.app
      // One store read per name at a time, however many requests ask.
      let loading = pending.get(name)
      if (!loading) {
        loading = apps.get(name).finally(() => pending.delete(name))
        pending.set(name, loading)
      }
      const app = await loading
      if (cache.size >= maxEntries) cache.delete(cache.keys().next().value as string)
      cache.set(name, { app, until: now() + ttl })
      return app
    },
    invalidate(name) {
      if (name === undefined) cache.clear()
      else cache.delete(name)
    },
  }
}
