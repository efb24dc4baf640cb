/**
 * Read-modify-writes of one key of a plain unstorage `Storage`, one batch at a time: the changes
 * asked for while a batch is being written are applied together in the next one (read once,
 * written once). What makes claims atomic, and index sets cheap to grow, over a driver that has
 * no transactions: within this process only, among the stores that share the `Storage` object.
 */
import type { Storage } from 'unstorage'

/** What the storage backend keeps at every key: the value and its expiry (seconds since epoch). */
export interface Envelope {
  value: unknown
  expiresAt?: number
}

/**
 * A change to one key: the envelope to keep (`null` removes it; the same one writes nothing), a
 * result, and the seconds a driver that honours `ttl` may keep a new envelope (the others ignore it).
 */
export type Change<R> = (current: Envelope | null) => [next: Envelope | null, result: R, ttl?: number]

interface Job {
  change: Change<unknown>
  resolve: (result: unknown) => void
  reject: (err: unknown) => void
}

/** `storage`'s value at a key as an envelope, `null` where there is none (or something else is). */
const envelopeOf = (raw: unknown): Envelope | null =>
  raw !== null && typeof raw === 'object' && 'value' in raw ? (raw as Envelope) : null

export type KeyedUpdates = <R>(key: string, change: Change<R>) => Promise<R>

// Shared by every store over one Storage object, so that their claims exclude each other too.
const byStorage = new WeakMap<Storage, KeyedUpdates>()

/** The keyed updates of `storage`, the same for every caller. */
export function keyedUpdates(storage: Storage): KeyedUpdates {
  const existing = byStorage.get(storage)
  if (existing) return existing
  const waiting = new Map<string, Job[]>()

  async function drain(key: string, jobs: Job[]) {
    while (jobs.length > 0) {
      const batch = jobs.splice(0)
      try {
        const current = envelopeOf(await storage.getItem(key))
        let next = current
        let ttl: number | undefined
        const results = batch.map((job) => {
          const [value, result, seconds] = job.change(next)
          if (value !== next) ttl = seconds
          next = value
          return result
        })
        if (next === null && current !== null) await storage.removeItem(key)
        else if (next !== null && next !== current) await storage.setItem(key, next, ttl ? { ttl } : undefined)
        for (const [i, job] of batch.entries()) job.resolve(results[i])
      } catch (err) {
        for (const job of batch) job.reject(err)
      }
    }
    waiting.delete(key)
  }

  const update: KeyedUpdates = (key, change) =>
    new Promise((resolve, reject) => {
      const job = { change, resolve, reject } as Job
      const jobs = waiting.get(key)
      if (jobs) {
        jobs.push(job)
        return
      }
      const started = [job]
      waiting.set(key, started)
      void drain(key, started)
    })
  byStorage.set(storage, update)
  return update
}
