/**
 * The requests `streams.connect` and `streams.verify` make to a transmitter's stream management
 * API (SSF 1.0 §8.1): through the gateway's guarded fetch, every URL checked against its fetch
 * policy first, the receiver's access token sent once and never kept or echoed.
 * @see https://openid.net/specs/openid-sharedsignals-framework-1_0.html SSF 1.0 §8.1.1, §8.1.4
 */
import { errors, SESSION_EVENTS } from '@backchannel/core'
import {
  checkFetchTarget,
  createGuardedFetch,
  type DiscoveredTransmitter,
  discoverTransmitter,
  transmitterError,
} from '@backchannel/core/discovery'
import type { AdminContext } from '../trpc.js'
import { hasCredentials } from './schemas.js'

/** The delivery methods of SSF 1.0 §8.1.1: push (RFC 8935) and poll (RFC 8936). */
export const DELIVERY_METHODS = { push: 'urn:ietf:rfc:8935', poll: 'urn:ietf:rfc:8936' } as const

/** What connecting needs to say about the stream's delivery. */
export type Delivery = { method: 'push'; endpointUrl: string; authorizationHeader: string } | { method: 'poll' }

/** What the transmitter answered about the stream it created or updated. */
export interface ConnectedStream {
  streamId: string
  /** `poll`: the transmitter-supplied `delivery.endpoint_url`, checked against the fetch policy. */
  pollEndpointUrl?: string
  /** The event types it will deliver (`events_delivered`), when it says. */
  eventsDelivered?: string[]
}

/** The transmitter's metadata, read now: at creation, and again to connect or verify (its endpoints may have moved). */
export function discover(ctx: AdminContext, issuer: string): Promise<DiscoveredTransmitter> {
  return (ctx.deps.discoverTransmitter ?? ((i: string) => discoverTransmitter(i, {})))(issuer)
}

/** Refuses, before anything connects, a transmitter URL the gateway's policy would not reach. */
export async function checkUrl(ctx: AdminContext, value: string, what: string): Promise<URL> {
  let url: URL | undefined
  try {
    url = new URL(value)
  } catch {}
  if (!url || !/^https?:$/.test(url.protocol)) {
    throw new errors.IssuerUrlInvalid(`${what} ${JSON.stringify(value)} is not an absolute http(s) URL`)
  }
  if (hasCredentials(value)) {
    throw new errors.IssuerUrlInvalid(`${what}: no user or password in the URL: it is shown by streams get and in logs`)
  }
  await (ctx.deps.checkStreamUrl ?? ((u: URL, w: string) => checkFetchTarget(u, w, {})))(url, what)
  return url
}

/**
 * Creates the stream at the transmitter's configuration endpoint (POST), or updates it (PATCH
 * with its `stream_id`), asking for the session events the gateway acts on.
 */
export async function configureStream(
  ctx: AdminContext,
  endpoint: string,
  accessToken: string,
  streamId: string | undefined,
  delivery: Delivery,
): Promise<ConnectedStream> {
  const url = await checkUrl(ctx, endpoint, 'configuration_endpoint')
  const body = {
    ...(streamId === undefined ? {} : { stream_id: streamId }),
    delivery:
      delivery.method === 'push'
        ? {
            method: DELIVERY_METHODS.push,
            endpoint_url: delivery.endpointUrl,
            authorization_header: delivery.authorizationHeader,
          }
        : { method: DELIVERY_METHODS.poll },
    events_requested: Object.keys(SESSION_EVENTS),
  }
  const answer = await send(ctx, url, streamId === undefined ? 'POST' : 'PATCH', accessToken, body)
  const config = (await answer.json().catch(() => undefined)) as Record<string, unknown> | undefined
  const configured = typeof config?.stream_id === 'string' ? config.stream_id : streamId
  if (!configured)
    throw new errors.IssuerMetadataInvalid(`${url.href} answered a stream configuration without stream_id`)
  const result: ConnectedStream = { streamId: configured }
  const events = config?.events_delivered
  if (Array.isArray(events)) result.eventsDelivered = events.filter((e) => typeof e === 'string')
  if (delivery.method === 'poll') {
    const endpointUrl = (config?.delivery as { endpoint_url?: unknown } | undefined)?.endpoint_url
    if (typeof endpointUrl !== 'string') {
      throw new errors.IssuerMetadataInvalid(`${url.href} answered a poll stream without delivery.endpoint_url`)
    }
    result.pollEndpointUrl = (await checkUrl(ctx, endpointUrl, 'the poll endpoint_url')).href
  }
  return result
}

/** Asks the transmitter's verification endpoint for a verification event carrying `state`. */
export async function requestVerification(
  ctx: AdminContext,
  endpoint: string,
  accessToken: string | undefined,
  streamId: string,
  state: string,
): Promise<void> {
  const url = await checkUrl(ctx, endpoint, 'verification_endpoint')
  await send(ctx, url, 'POST', accessToken, { stream_id: streamId, state })
}

async function send(ctx: AdminContext, url: URL, method: string, token: string | undefined, body: object) {
  const fetch = ctx.deps.transmitterFetch ?? createGuardedFetch({})
  const answer = await fetch(url, {
    method,
    headers: {
      'content-type': 'application/json',
      accept: 'application/json',
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    },
    body: JSON.stringify(body),
  })
  if (answer.status < 200 || answer.status > 299) {
    const said = transmitterError(await answer.json().catch(() => undefined))
    throw new errors.IssuerUnreachable(`${url.href} answered ${answer.status}${said ? ` (${said})` : ''}`)
  }
  return answer
}
