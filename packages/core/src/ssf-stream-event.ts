/**
 * The events a transmitter sends about the stream itself rather than a subject: the verification
 * event (its `state`) and `stream-updated` (the stream's new status). They change no session; the
 * flow hands them to the stream registry ({@link StreamEventRecorder}).
 * @see https://openid.net/specs/openid-sharedsignals-framework-1_0.html SSF 1.0 §8.1.4 (verification), §8.1.5 (stream updated)
 * @module
 */
import type { SecurityEvent } from './set.js'

const SSF = 'https://schemas.openid.net/secevent/ssf/event-type/'

/** The SSF event types about the stream itself, by URI, with their short name (metrics, audit). */
export const STREAM_EVENTS: Readonly<Record<string, 'verification' | 'stream-updated'>> = {
  [`${SSF}verification`]: 'verification',
  [`${SSF}stream-updated`]: 'stream-updated',
}

/** A stream's status as its transmitter states it (SSF 1.0 §8.1.2). */
export type StreamStatus = 'enabled' | 'paused' | 'disabled'

const STATUSES: ReadonlySet<string> = new Set<StreamStatus>(['enabled', 'paused', 'disabled'])

/**
 * What a stream event says: a verification event with its `state` (absent when the transmitter
 * verifies on its own), or the stream's new status, the transmitter's reason and when the SET
 * was issued (`issuedAt`, seconds since epoch: a redelivered older status must not overwrite a
 * newer one).
 */
export type StreamEvent =
  | { event: 'verification'; state?: string }
  | { event: 'stream-updated'; status: StreamStatus; reason?: string; issuedAt?: number }

/** Where the flow records a stream event; `true` when it took effect, `false` to answer it ignored. */
export interface StreamEventRecorder {
  /**
   * Records `event` for the stream `name` at `at` (seconds since epoch): a verification whose
   * `state` is the one last requested marks it verified; `stream-updated` stores the status,
   * unless one issued later is stored (then `false`). Nothing is written for a stream that is gone.
   */
  recordEvent(name: string, event: StreamEvent, at: number): Promise<boolean>
}

/** A stream event in a form that cannot be recorded: its short name, and why (`invalid`). */
export interface UnreadableStreamEvent {
  event: StreamEvent['event']
  invalid: string
}

/**
 * Reads a verified SET as a stream event, its short name in `event`: `undefined` when its type is
 * not one, `invalid` saying why when it is one in a form that cannot be recorded.
 *
 * @example
 * ```ts
 * import { readStreamEvent } from '@backchannel/core'
 * readStreamEvent(set) // { event: 'stream-updated', status: 'paused', reason: 'maintenance', issuedAt: 1767225600 }
 * ```
 */
export function readStreamEvent(set: SecurityEvent): StreamEvent | UnreadableStreamEvent | undefined {
  const event = STREAM_EVENTS[set.type]
  if (event === undefined) return undefined
  const { state, status, reason } = set.event
  if (event === 'verification') {
    if (state === undefined) return { event }
    return typeof state === 'string' && state.length <= 1024
      ? { event, state }
      : { event, invalid: 'the state is not a short string' }
  }
  if (typeof status !== 'string' || !STATUSES.has(status)) {
    return { event, invalid: 'the status is not one of enabled, paused, disabled' }
  }
  const why = typeof reason === 'string' ? reason.slice(0, 1024) : undefined
  return { event, status: status as StreamStatus, ...(why ? { reason: why } : {}), issuedAt: set.iat }
}
