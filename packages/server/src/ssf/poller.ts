/**
 * The poller of `delivery: "poll"` streams (RFC 8936): each such stream is polled by one gateway
 * instance at a time, which holds the stream's lease in the store. Each SET a poll brings goes
 * through the same flow as a pushed one; the next poll acknowledges those stored (accepted, or
 * seen before) and reports those refused in `setErrs` with their `err`. A SET the gateway could not
 * store (the store is down) is neither: the transmitter delivers it again. The lease: poll-lease.ts.
 * @module
 */
import { randomUUID } from 'node:crypto'
import type { SsfOutcome } from '@backchannel/core'
import { createGuardedFetch, type IssuerFetchPolicy } from '@backchannel/core/discovery'
import type { StreamRecord, StreamStore } from '@backchannel/unstorage'
import type { Logger } from 'pino'
import { holdLease, takeLease } from './poll-lease.js'
import { type PollRequest, pollTransmitter } from './poll-request.js'

/** How a gateway polls its poll streams; every field has a default. */
export interface StreamPollingOptions {
  /** SETs asked for per poll (`maxEvents`). Default 25. */
  maxEvents?: number
  /** Seconds a long poll (`returnImmediately: false`) may wait for the transmitter's answer. Default 30. */
  waitSeconds?: number
  /** Seconds at least between two polls that brought nothing (a transmitter that does not hold the request). Default 5. */
  idleSeconds?: number
  /** Seconds of one lease term. Default 30. */
  leaseSeconds?: number
  /** Milliseconds between looks for poll streams this instance could take. Default 5000. */
  checkMs?: number
  /** Seconds to wait after the n-th failure in a row (n ≥ 1). Default: {@link pollBackoff}. */
  backoff?: (failures: number) => number
}

/** What {@link createStreamPoller} needs besides its options. */
export interface StreamPollerDependencies {
  streams: StreamStore
  /** Runs one SET through the flow and records its outcome (audit, metrics, log). */
  process: (token: string, stream: StreamRecord) => Promise<SsfOutcome>
  /** The gateway's outbound rules; the timeout and size cap are the poller's own. */
  fetchPolicy?: IssuerFetchPolicy
  logger: Logger
  /** The clock, seconds since epoch. */
  now: () => number
}

/** A running poller. */
export interface StreamPoller {
  /** Stops polling at once (a poll in flight is abandoned), gives the leases back, and waits for the SET in hand. */
  close(): Promise<void>
}

/** The longest wait between polls after failures, in seconds. */
const MAX_BACKOFF_SECONDS = 300

/**
 * Seconds to wait after the `failures`-th failed poll in a row: 1, 2, 4, … 300, each ±25 % so that
 * gateways that failed together do not poll again together. A relay's schedule gives up after a
 * day; a poll never does, so this one only grows to a ceiling.
 *
 * @example
 * ```ts
 * pollBackoff(3) // about 4 (3 to 5)
 * ```
 */
export function pollBackoff(failures: number): number {
  const base = Math.min(MAX_BACKOFF_SECONDS, 2 ** Math.max(0, failures - 1))
  return base * (0.75 + Math.random() * 0.5)
}

/**
 * Starts polling the poll streams of the store, those this instance holds the lease of.
 *
 * @example
 * ```ts
 * const poller = createStreamPoller({}, { streams: store.streams, process, logger, now })
 * await poller.close()
 * ```
 */
export function createStreamPoller(options: StreamPollingOptions, deps: StreamPollerDependencies): StreamPoller {
  const { streams, logger, now } = deps
  const maxEvents = options.maxEvents ?? 25
  const waitSeconds = options.waitSeconds ?? 30
  const idleSeconds = options.idleSeconds ?? 5
  const term = options.leaseSeconds ?? 30
  const backoff = options.backoff ?? pollBackoff
  // A poll's answer holds at most maxEvents SETs of 64 KiB.
  const fetch = createGuardedFetch({ ...deps.fetchPolicy, timeout: waitSeconds, maxBytes: (maxEvents + 1) * 65_536 })
  const workers = new Map<string, Promise<void>>()
  const stops = new Set<() => void>()
  let closed = false
  let timer: NodeJS.Timeout | undefined

  const pollable = (s: StreamRecord | undefined): s is StreamRecord & { pollEndpointUrl: string; pollToken: string } =>
    s?.delivery === 'poll' && s.pollEndpointUrl !== undefined && s.pollToken !== undefined

  /** Polls `name` while this instance holds its lease, taken for `firstTerm`. */
  async function work(name: string, firstTerm: number): Promise<void> {
    let stopped = false
    let wake: (() => void) | undefined
    const aborter = new AbortController()
    const stop = () => {
      stopped = true
      aborter.abort()
      wake?.()
    }
    stops.add(stop)
    const sleep = (seconds: number) =>
      new Promise<void>((resolve) => {
        if (stopped) return resolve()
        const t = setTimeout(resolve, seconds * 1000).unref()
        wake = () => {
          clearTimeout(t)
          resolve()
        }
      })
    const lease = holdLease(streams, name, firstTerm, { termSeconds: term, now, logger, lost: stop })

    const ack: string[] = []
    const setErrs: PollRequest['setErrs'] = {}
    let failures = 0
    try {
      while (!stopped) {
        let stream: StreamRecord | undefined
        try {
          stream = await streams.get(name)
        } catch (err) {
          failures++
          logger.warn({ stream: name, err, failures }, 'the stream could not be read; trying again')
          await sleep(backoff(failures))
          continue
        }
        // Deleted, or changed so that it can no longer be polled.
        if (!pollable(stream)) break
        const started = now()
        const sent = { ack: [...ack], setErrs: { ...setErrs } }
        let sets: Record<string, string>
        let malformed: string[]
        try {
          const request = { maxEvents, returnImmediately: false, ...sent }
          ;({ sets, malformed } = await pollTransmitter(
            fetch,
            stream.pollEndpointUrl,
            stream.pollToken,
            request,
            aborter.signal,
          ))
        } catch (err) {
          if (stopped) break
          // A long poll the transmitter held past our wait is no failure; its acks go again.
          if ((err as { code?: string }).code === 'ERR_ISSUER_TIMEOUT') continue
          failures++
          const wait = backoff(failures)
          logger.warn({ stream: name, err, failures, retryIn: Math.round(wait) }, 'poll failed; trying again')
          await sleep(wait)
          continue
        }
        // What the transmitter was told is done with; what comes now is reported in the next poll.
        ack.splice(0, sent.ack.length)
        for (const jti of Object.keys(sent.setErrs)) delete setErrs[jti]
        for (const jti of malformed) setErrs[jti] = { err: 'invalid_request', description: 'the SET is not a string' }
        let unstored = 0
        for (const [jti, token] of Object.entries(sets)) {
          if (stopped) break
          const outcome = await deps.process(token, stream)
          if (outcome.status === 202) ack.push(jti)
          else if (outcome.body) setErrs[jti] = outcome.body
          else unstored++ // neither: the transmitter delivers it again
        }
        if (unstored > 0) {
          failures++
          await sleep(backoff(failures))
        } else {
          failures = 0
          const idle = Object.keys(sets).length === 0 ? idleSeconds - (now() - started) : 0
          if (idle > 0) await sleep(idle)
        }
      }
    } finally {
      stops.delete(stop)
      await lease.release()
    }
  }

  async function look(): Promise<void> {
    const all = await streams.list()
    for (const stream of all) {
      if (closed || workers.has(stream.name) || !pollable(stream)) continue
      const taken = await takeLease(streams, stream.name, term, now)
      if (taken === undefined) continue
      logger.info({ stream: stream.name }, 'polling the stream')
      const running = work(stream.name, taken)
        .catch((err: unknown) => logger.error({ err, stream: stream.name }, 'the poll of a stream stopped'))
        .finally(() => workers.delete(stream.name))
      workers.set(stream.name, running)
    }
  }

  const tick = () => {
    look()
      .catch((err: unknown) => logger.warn({ err }, 'poll streams could not be listed or leased; trying again'))
      .finally(() => {
        if (!closed) timer = setTimeout(tick, options.checkMs ?? 5000).unref()
      })
  }
  tick()

  return {
    async close() {
      closed = true
      clearTimeout(timer)
      for (const stop of stops) stop()
      await Promise.all(workers.values())
    },
  }
}

/** A request id for the records of a polled SET (`poll-…`). */
export const pollRequestId = () => `poll-${randomUUID()}`
