/**
 * A stream's `lastEventAt`, written at most once a second per stream by each instance: a burst of
 * SETs (a user's thousand sessions, a transmitter catching up after an outage) would otherwise add
 * a store write to every one of them, and `streams.get` shows the time to the second anyway.
 * @module
 */
import type { StreamStore } from '@backchannel/unstorage'
import type { Logger } from 'pino'

/** Seconds between two writes of one stream's `lastEventAt` by one instance. */
const INTERVAL = 1

/**
 * Returns what to call with a stream's name for each verified SET of it; the write is not awaited
 * (the SET's answer does not wait on bookkeeping), and a failed one is logged.
 *
 * @example
 * ```ts
 * const seen = createStreamActivity(store.streams, () => Date.now() / 1000, logger)
 * seen('okta') // writes lastEventAt; another call within a second writes nothing
 * ```
 */
export function createStreamActivity(
  streams: Pick<StreamStore, 'touch'>,
  now: () => number,
  logger: Logger,
): (stream: string) => void {
  // Only names of registered streams reach here (a verified SET): the map stays small.
  const written = new Map<string, number>()
  return (stream) => {
    const t = now()
    if (t - (written.get(stream) ?? Number.NEGATIVE_INFINITY) < INTERVAL) return
    written.set(stream, t)
    streams.touch(stream, Math.floor(t)).catch((err: unknown) => {
      logger.warn({ err, stream }, "a stream's last event time could not be written")
    })
  }
}
