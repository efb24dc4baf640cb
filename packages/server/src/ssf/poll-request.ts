/**
 * One poll of a transmitter (RFC 8936 §2.4): the acknowledgements and errors of the SETs the
 * previous polls brought, and the SETs waiting now. The poller (poller.ts) calls it; it keeps no
 * state of its own.
 * @see https://www.rfc-editor.org/rfc/rfc8936#section-2.4 RFC 8936 §2.4
 * @module
 */
import { errors, type SetErr } from '@backchannel/core'
import { type GuardedFetch, transmitterError } from '@backchannel/core/discovery'

/** What a poll says to the transmitter. */
export interface PollRequest {
  /** How many SETs to return at most. */
  maxEvents: number
  /** `false`: the transmitter may hold the request until a SET is waiting (long polling). */
  returnImmediately: boolean
  /** The `jti`s of the SETs stored since the last poll. */
  ack: string[]
  /** The SETs refused since the last poll, by `jti`, with their RFC 8935 `err`. */
  setErrs: Record<string, { err: SetErr; description: string }>
}

/** What the transmitter answered: the SETs by `jti`, and whether more are waiting. */
export interface PollAnswer {
  sets: Record<string, string>
  /** The `jti`s whose value is not a SET (not a string): refused, or they would come back forever. */
  malformed: string[]
  moreAvailable: boolean
}

/**
 * POSTs `request` to `endpoint` with `Authorization: Bearer token`.
 * @throws {IssuerRefused} a subclass naming what went wrong: the guarded fetch's refusals, an
 *   answer other than 200 (`ERR_ISSUER_UNREACHABLE`), or one that is not an RFC 8936 answer
 *   (`ERR_ISSUER_METADATA_INVALID`).
 *
 * @example
 * ```ts
 * const { sets } = await pollTransmitter(fetch, 'https://ssf.example.com/poll/1', token, {
 *   maxEvents: 25, returnImmediately: false, ack: ['set-1'], setErrs: {},
 * })
 * ```
 */
export async function pollTransmitter(
  fetch: GuardedFetch,
  endpoint: string,
  token: string,
  request: PollRequest,
  signal?: AbortSignal,
): Promise<PollAnswer> {
  // A poll URL may carry a secret of the transmitter's (a path token): errors and logs name its origin only.
  const { href, origin: where } = new URL(endpoint)
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(request),
    ...(signal ? { signal } : {}),
  }).catch((err: unknown) => {
    if (!(err instanceof errors.BackchannelError) || !err.message.includes(href)) throw err
    const Coded = err.constructor as new (message: string, options?: { cause?: unknown }) => Error
    throw new Coded(err.message.replaceAll(href, where), { cause: err.cause })
  })
  const body = (await response.json().catch(() => undefined)) as Record<string, unknown> | undefined
  if (response.status !== 200) {
    const error = transmitterError(body)
    const said = error ? ` (${error})` : ''
    throw new errors.IssuerUnreachable(`the poll endpoint at ${where} answered ${response.status}${said}`)
  }
  const sets = body?.sets
  if (typeof sets !== 'object' || sets === null || Array.isArray(sets)) {
    throw new errors.IssuerMetadataInvalid(`the poll endpoint at ${where} answered without a sets object`)
  }
  const valid = Object.entries(sets).filter((entry): entry is [string, string] => typeof entry[1] === 'string')
  const malformed = Object.keys(sets).filter((jti) => typeof (sets as Record<string, unknown>)[jti] !== 'string')
  return { sets: Object.fromEntries(valid), malformed, moreAvailable: body?.moreAvailable === true }
}
