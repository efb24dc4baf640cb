/**
 * The lease that lets one gateway instance alone poll a stream, in terms of `termSeconds`: the
 * holder of a term takes the next one during its last third; any other instance tries a term only
 * once it has begun (plus a short grace), so the holder keeps its streams while it lives, and
 * another takes over within one term when it stops or dies. A term is a claim in the store (its one
 * atomic primitive, as the outbox's leases), never extended: no renewal can overlap another holder.
 * @module
 */
import type { StreamStore } from '@backchannel/unstorage'
import type { Logger } from 'pino'

type Leases = Pick<StreamStore, 'lease' | 'releaseLease'>

/** A lease held: renewed term after term until {@link PollLease.release}, or lost. */
export interface PollLease {
  /** Stops renewing and gives back the terms not over yet, so that another instance takes over now. */
  release(): Promise<void>
}

/**
 * Takes the lease of `name` for the current term, if it is free and the term began more than a
 * grace ago (the previous holder renews before that); `undefined` when not taken.
 *
 * @example
 * ```ts
 * const term = await takeLease(store.streams, 'okta', 30, now) // 59310227, or undefined
 * ```
 */
export async function takeLease(
  streams: Leases,
  name: string,
  termSeconds: number,
  now: () => number,
): Promise<number | undefined> {
  const t = now()
  const term = Math.floor(t / termSeconds)
  if (t < term * termSeconds + Math.min(2, termSeconds / 6)) return undefined
  return (await streams.lease(name, term, (term + 1) * termSeconds)) ? term : undefined
}

/**
 * Holds the lease taken for `firstTerm` (by {@link takeLease}): takes each next term during the
 * last third of the one held; when that fails, calls `lost` as the held term ends.
 *
 * @example
 * ```ts
 * const lease = holdLease(store.streams, 'okta', term, { termSeconds: 30, now, logger, lost: stop })
 * await lease.release()
 * ```
 */
export function holdLease(
  streams: Leases,
  name: string,
  firstTerm: number,
  options: { termSeconds: number; now: () => number; logger: Logger; lost: () => void },
): PollLease {
  const { termSeconds, now, logger, lost } = options
  let held = firstTerm
  let released = false
  let timer: NodeJS.Timeout | undefined
  const at = (seconds: number, run: () => unknown) => {
    timer = setTimeout(run, Math.max(0, seconds - now()) * 1000).unref()
  }
  const renew = (): void =>
    at((held + 1) * termSeconds - termSeconds / 3, async (): Promise<void> => {
      const next = held + 1
      if (await streams.lease(name, next, (next + 1) * termSeconds).catch(() => false)) {
        held = next
        // Released meanwhile: the release gave back the older terms only.
        if (released) await streams.releaseLease(name, next).catch(() => {})
        else renew()
        return
      }
      if (released) return
      logger.warn({ stream: name }, 'the poll lease could not be renewed; polling stops at the end of its term')
      at(next * termSeconds, lost)
    })
  renew()
  return {
    async release() {
      released = true
      clearTimeout(timer)
      // The term held and, once renewed, the one still running before it.
      for (const term of new Set([held - 1, held])) {
        if (term >= firstTerm && term >= Math.floor(now() / termSeconds)) {
          await streams.releaseLease(name, term).catch(() => {})
        }
      }
    },
  }
}
