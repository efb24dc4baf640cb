/**
 * Applications and Shared Signals streams cached for the hot path. Each entry (also "no such
 * name") lives `ttl` seconds, so a change made through another instance is seen within that
 * time; a change made here is seen at once.
 */
import type { AppRegistry } from '@backchannel/core'
import type { AppRecord, AppStore, StreamRecord, StreamStore } from '@backchannel/unstorage'

/** Records by name with a short-lived in-memory cache in front. */
export interface RecordCache<T> {
  get(name: string): Promise<T | undefined>
  /** Drops one name (or all) from the cache. */
  invalidate(name?: string): void
}

/** An application registry with a short-lived in-memory cache in front. */
export interface AppCache extends AppRegistry {
  get(name: string): Promise<AppRecord | undefined>
  /** Drops one application (or all) from the cache. */
  invalidate(name?: string): void
}

/** Caches `apps.get` for `ttl` seconds per name, misses included. */
export function createAppCache(apps: AppStore, ttl: number, now: () => number, maxEntries = 10_000): AppCache {
  return createRecordCache((name) => apps.get(name), ttl, now, maxEntries)
}

/** Caches `streams.get` for `ttl` seconds per name, misses included: a pushed SET reads its stream. */
export function createStreamCache(
  streams: Pick<StreamStore, 'get'>,
  ttl: number,
  now: () => number,
  maxEntries = 10_000,
): RecordCache<StreamRecord> {
  return createRecordCache((name) => streams.get(name), ttl, now, maxEntries)
}

function createRecordCache<T>(
  load: (name: string) => Promise<T | undefined>,
  ttl: number,
  now: () => number,
  maxEntries: number,
): RecordCache<T> {
  const cache = new Map<string, { record: T | undefined; until: number }>()
  const pending = new Map<string, Promise<T | undefined>>()
  return {
    async get(name) {
      const hit = cache.get(name)
      if (hit && hit.until > now()) return hit.record
      // One store read per name at a time, however many requests ask.
      let loading = pending.get(name)
      if (!loading) {
        loading = load(name).finally(() => pending.delete(name))
        pending.set(name, loading)
      }
      const record = await loading
      if (cache.size >= maxEntries) cache.delete(cache.keys().next().value as string)
      cache.set(name, { record, until: now() + ttl })
      return record
    },
    invalidate(name) {
      if (name === undefined) cache.clear()
      else cache.delete(name)
    },
  }
}
