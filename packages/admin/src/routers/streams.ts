/**
 * `streams.*`: the Shared Signals streams the gateway receives events on (admin token only). A
 * stream is created from its transmitter's issuer URL; its push token is shown once, kept hashed;
 * a poll stream's token is sealed and never shown. `streams.connect` and `streams.verify` talk to
 * the transmitter's management API (`_internal/transmitter.ts`).
 */
import { randomBytes } from 'node:crypto'
import { ASYMMETRIC_ALGORITHMS } from '@backchannel/core'
import type { StreamRecord, StreamState } from '@backchannel/unstorage'
import { TRPCError } from '@trpc/server'
import { z } from 'zod'
import { newStreamToken } from '../_internal/credentials.js'
import { appName } from '../_internal/schemas.js'
import { checkUrl, configureStream, DELIVERY_METHODS, discover, requestVerification } from '../_internal/transmitter.js'
import { hashToken } from '../tokens.js'
import { type AdminContext, adminAction, adminProcedure, router } from '../trpc.js'

/** A stream as the API shows it: everything but its authorization hash and poll token. */
export type PublicStream = Omit<StreamRecord, 'authorizationHash' | 'pollToken'>

/** What `streams.create` answers: a push stream's URL and `Authorization` header, shown this once. */
export interface CreatedStream {
  stream: PublicStream
  pushUrl?: string
  authorizationHeader?: string
}

/** A stream with where it stands: its status, last event and last verification. */
export type StreamWithState = PublicStream & StreamState

const publicStream = ({ authorizationHash: _, pollToken: __, ...stream }: StreamRecord): PublicStream => stream

async function withState(ctx: AdminContext, stream: StreamRecord): Promise<StreamWithState> {
  return { ...publicStream(stream), ...(await ctx.deps.store.streams.state(stream.name)) }
}

/** The gateway's public URL, without a trailing slash. */
const publicUrlOf = (ctx: AdminContext) => (ctx.deps.publicUrl ?? 'http://localhost:3000').replace(/\/$/, '')
/** Where a stream's transmitter pushes: `<public URL>/ssf/<name>`. */
const pushUrlOf = (ctx: AdminContext, name: string) => `${publicUrlOf(ctx)}/ssf/${name}`

const badRequest = (message: string) => new TRPCError({ code: 'BAD_REQUEST', message })
/** The audit's `fields`: what the input set, by name only (a token's value never). */
const fieldNames = (input: object) => Object.keys(input).filter((k) => k !== 'name')

async function load(ctx: AdminContext, name: string): Promise<StreamRecord> {
  const stream = await ctx.deps.store.streams.get(name)
  if (!stream) throw new TRPCError({ code: 'NOT_FOUND', message: `no stream is named ${JSON.stringify(name)}` })
  return stream
}

const url = z.string().min(1).max(2048)
const bearer = z.string().min(1).max(4096)
const streamName = appName.describe('the stream name: lowercase letters, digits and "-" (the :stream of /ssf/:stream)')

export const streamsRouter = router({
  /**
   * Registers a stream: the transmitter's metadata is discovered from its issuer; the answer holds
   * the push URL and the `Authorization` header to configure at the transmitter, shown only here.
   */
  create: adminAction
    .input(
      z
        .object({
          name: streamName,
          issuer: url.describe("the transmitter's issuer URL (its /.well-known/ssf-configuration is read now)"),
          apps: z.array(appName).min(1).max(100).describe('the applications whose sessions its events end'),
          audience: url.optional().describe("what the SETs' aud must contain (default the gateway's public URL)"),
          streamId: z.string().min(1).max(1024).optional().describe("the transmitter's id of the stream, if known"),
          delivery: z
            .enum(['push', 'poll'])
            .optional()
            .describe('how events arrive: pushed to the gateway (the default), or polled by it (RFC 8936)'),
          pollToken: bearer
            .optional()
            .describe('poll: the bearer token the gateway polls with (kept sealed, never shown)'),
          pollEndpointUrl: url
            .optional()
            .describe(
              "poll: the transmitter's poll endpoint, for a stream configured by hand (else streams.connect sets it)",
            ),
          algorithm: z.enum(ASYMMETRIC_ALGORITHMS).optional().describe('the one alg accepted (default RS256)'),
          revokeOnCredentialChange: z
            .boolean()
            .optional()
            .describe('CAEP credential-change ends every session of its user (default false: it is ignored)'),
        })
        .strict(),
    )
    .mutation(async ({ ctx, input }) => {
      for (const app of input.apps) {
        if (!(await ctx.deps.store.apps.get(app))) {
          throw new TRPCError({ code: 'BAD_REQUEST', message: `apps: no application is named ${JSON.stringify(app)}` })
        }
      }
      const poll = input.delivery === 'poll'
      if (poll && input.pollToken === undefined) throw badRequest('pollToken: required with delivery "poll"')
      for (const field of ['pollToken', 'pollEndpointUrl'] as const) {
        if (!poll && input[field] !== undefined) throw badRequest(`${field}: only with delivery "poll"`)
      }
      // Refused before the transmitter is asked anything.
      const pollEndpointUrl =
        input.pollEndpointUrl === undefined
          ? undefined
          : (await checkUrl(ctx, input.pollEndpointUrl, 'pollEndpointUrl')).href
      const { jwksUri, deliveryMethods } = await discover(ctx, input.issuer)
      if (poll && !deliveryMethods?.includes(DELIVERY_METHODS.poll)) {
        throw badRequest(
          `delivery: the transmitter does not list ${DELIVERY_METHODS.poll} (poll) in its delivery_methods_supported`,
        )
      }
      const token = newStreamToken()
      const t = ctx.now()
      const stream: StreamRecord = {
        name: input.name,
        issuer: input.issuer,
        audience: input.audience ?? publicUrlOf(ctx),
        jwksUri,
        ...(input.algorithm ? { algorithm: input.algorithm } : {}),
        apps: [...new Set(input.apps)],
        authorizationHash: hashToken(token),
        delivery: poll ? 'poll' : 'push',
        ...(input.streamId ? { streamId: input.streamId } : {}),
        ...(input.revokeOnCredentialChange ? { revokeOnCredentialChange: true } : {}),
        ...(poll ? { pollToken: input.pollToken } : {}),
        ...(pollEndpointUrl ? { pollEndpointUrl } : {}),
        createdAt: t,
        updatedAt: t,
      }
      if (!(await ctx.deps.store.streams.create(stream))) {
        throw new TRPCError({ code: 'CONFLICT', message: `a stream is already named ${JSON.stringify(input.name)}` })
      }
      ctx.deps.onStreamChanged?.(stream.name)
      ctx.audit.fields = fieldNames(input)
      const created: CreatedStream = { stream: publicStream(stream) }
      // A poll stream has no push URL or header: nothing can push to it.
      return poll
        ? created
        : { ...created, pushUrl: pushUrlOf(ctx, input.name), authorizationHeader: `Bearer ${token}` }
    }),
  /** Every stream, by name, with its status. */
  list: adminProcedure.query(async ({ ctx }) =>
    Promise.all((await ctx.deps.store.streams.list()).map((stream) => withState(ctx, stream))),
  ),
  /** One stream, with its status (`enabled`, `paused`, `disabled`), last event and last verification. */
  get: adminProcedure
    .input(z.object({ name: streamName }).strict())
    .query(async ({ ctx, input }) => withState(ctx, await load(ctx, input.name))),
  /**
   * Creates the stream at the transmitter's `configuration_endpoint`, or updates it when its
   * `stream_id` is known: push to its push URL with a new `Authorization` header (the one shown at
   * creation stops working), or poll (the transmitter's poll endpoint is kept). `accessToken` is
   * the transmitter's bearer token for its management API: sent once, never stored.
   */
  connect: adminAction
    .input(
      z
        .object({
          name: streamName,
          accessToken: bearer.describe("the transmitter's bearer token for its stream management API (used once)"),
        })
        .strict(),
    )
    .mutation(async ({ ctx, input }) => {
      const stream = await load(ctx, input.name)
      const { configurationEndpoint } = await discover(ctx, stream.issuer)
      if (!configurationEndpoint) throw badRequest('the transmitter publishes no configuration_endpoint')
      const pushUrl = pushUrlOf(ctx, stream.name)
      const token = newStreamToken()
      const connected = await configureStream(
        ctx,
        configurationEndpoint,
        input.accessToken,
        stream.streamId,
        stream.delivery === 'poll'
          ? { method: 'poll' }
          : { method: 'push', endpointUrl: pushUrl, authorizationHeader: `Bearer ${token}` },
      )
      // Stored once the transmitter took it: a refused call leaves the stream as it was.
      const updated: StreamRecord = {
        ...stream,
        streamId: connected.streamId,
        ...(stream.delivery === 'push' ? { authorizationHash: hashToken(token) } : {}),
        ...(connected.pollEndpointUrl ? { pollEndpointUrl: connected.pollEndpointUrl } : {}),
        updatedAt: ctx.now(),
      }
      await ctx.deps.store.streams.update(updated)
      ctx.deps.onStreamChanged?.(stream.name)
      ctx.audit.fields = fieldNames(input)
      return {
        stream: publicStream(updated),
        ...(stream.delivery === 'push' ? { pushUrl } : {}),
        ...(connected.eventsDelivered ? { eventsDelivered: connected.eventsDelivered } : {}),
      }
    }),
  /**
   * Asks the transmitter's `verification_endpoint` for a verification event with a new random
   * `state`; `streams.get` shows it verified once that event arrives. `accessToken` as for
   * `streams.connect` (default: a poll stream's token; none for a push stream).
   */
  verify: adminAction
    .input(
      z
        .object({
          name: streamName,
          accessToken: bearer
            .optional()
            .describe("the transmitter's bearer token for its management API (used once; default the poll token)"),
        })
        .strict(),
    )
    .mutation(async ({ ctx, input }) => {
      const stream = await load(ctx, input.name)
      if (!stream.streamId) {
        throw badRequest('the stream has no stream_id: run streams.connect, or create it with streamId')
      }
      const { verificationEndpoint } = await discover(ctx, stream.issuer)
      if (!verificationEndpoint) throw badRequest('the transmitter publishes no verification_endpoint')
      const verification = { state: randomBytes(16).toString('base64url'), requestedAt: ctx.now() }
      const { lastVerification: previous } = await ctx.deps.store.streams.state(stream.name)
      // Recorded before asking: the event may arrive before the transmitter answers.
      await ctx.deps.store.streams.requestVerification(stream.name, verification)
      const token = input.accessToken ?? stream.pollToken
      await requestVerification(ctx, verificationEndpoint, token, stream.streamId, verification.state).catch(
        async (err: unknown) => {
          // Refused: no event will come, so the last verification stays what it was.
          if (previous) await ctx.deps.store.streams.requestVerification(stream.name, previous)
          throw err
        },
      )
      ctx.audit.fields = fieldNames(input)
      return { lastVerification: verification }
    }),
  /** Removes a stream: its push URL answers 404 from then on. */
  delete: adminAction.input(z.object({ name: streamName }).strict()).mutation(async ({ ctx, input }) => {
    // Asked of the store even for a name with no stream: that frees a name a failed creation held.
    if (!(await ctx.deps.store.streams.delete(input.name))) {
      throw new TRPCError({ code: 'NOT_FOUND', message: `no stream is named ${JSON.stringify(input.name)}` })
    }
    ctx.deps.onStreamChanged?.(input.name)
    return { deleted: true as const }
  }),
})
