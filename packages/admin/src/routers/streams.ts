/**
 * `streams.*`: the Shared Signals streams the gateway receives events on (admin token only). A
 * stream is created from its transmitter's issuer URL; its push token is shown once, kept hashed.
 */
import { ASYMMETRIC_ALGORITHMS } from '@backchannel/core'
import { discoverTransmitter } from '@backchannel/core/discovery'
import type { StreamRecord } from '@backchannel/unstorage'
import { TRPCError } from '@trpc/server'
import { z } from 'zod'
import { newStreamToken } from '../_internal/credentials.js'
import { appName } from '../_internal/schemas.js'
import { hashToken } from '../tokens.js'
import { type AdminContext, adminAction, adminProcedure, router } from '../trpc.js'

/** A stream as the API shows it: everything but its authorization hash. */
export type PublicStream = Omit<StreamRecord, 'authorizationHash'>

const publicStream = ({ authorizationHash: _, ...stream }: StreamRecord): PublicStream => stream

async function load(ctx: AdminContext, name: string): Promise<StreamRecord> {
  const stream = await ctx.deps.store.streams.get(name)
  if (!stream) throw new TRPCError({ code: 'NOT_FOUND', message: `no stream is named ${JSON.stringify(name)}` })
  return stream
}

const url = z.string().min(1).max(2048)
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
          delivery: z.literal('push').optional().describe('how events arrive: pushed to the gateway (the default)'),
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
      const discover = ctx.deps.discoverTransmitter ?? ((issuer: string) => discoverTransmitter(issuer, {}))
      const { jwksUri } = await discover(input.issuer)
      const publicUrl = (ctx.deps.publicUrl ?? 'http://localhost:3000').replace(/\/$/, '')
      const token = newStreamToken()
      const t = ctx.now()
      const stream: StreamRecord = {
        name: input.name,
        issuer: input.issuer,
        audience: input.audience ?? publicUrl,
        jwksUri,
        ...(input.algorithm ? { algorithm: input.algorithm } : {}),
        apps: [...new Set(input.apps)],
        authorizationHash: hashToken(token),
        delivery: 'push',
        ...(input.streamId ? { streamId: input.streamId } : {}),
        ...(input.revokeOnCredentialChange ? { revokeOnCredentialChange: true } : {}),
        createdAt: t,
        updatedAt: t,
      }
      if (!(await ctx.deps.store.streams.create(stream))) {
        throw new TRPCError({ code: 'CONFLICT', message: `a stream is already named ${JSON.stringify(input.name)}` })
      }
      return {
        stream: publicStream(stream),
        pushUrl: `${publicUrl}/ssf/${input.name}`,
        authorizationHeader: `Bearer ${token}`,
      }
    }),
  /** Every stream, by name. */
  list: adminProcedure.query(async ({ ctx }) => (await ctx.deps.store.streams.list()).map(publicStream)),
  /** One stream. */
  get: adminProcedure
    .input(z.object({ name: streamName }).strict())
    .query(async ({ ctx, input }) => publicStream(await load(ctx, input.name))),
  /** Removes a stream: its push URL answers 404 from then on. */
  delete: adminAction.input(z.object({ name: streamName }).strict()).mutation(async ({ ctx, input }) => {
    await load(ctx, input.name)
    await ctx.deps.store.streams.delete(input.name)
    return { deleted: true as const }
  }),
})
