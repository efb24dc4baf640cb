/** `sessions.*`: the session registry of one application (admin token, or that app's API key). */
import { errors, type RevocationTarget, resolvePolicy, sessionIssuer } from '@backchannel/core'
import { TRPCError } from '@trpc/server'
import { z } from 'zod'
import { publicSession, publicState } from '../_internal/public-records.js'
import { appName, id, time } from '../_internal/schemas.js'
import { authenticatedProcedure, router } from '../trpc.js'

/** Resolves `input.app` and lets through the admin token or that application's own API key. */
const sessionProcedure = authenticatedProcedure.input(z.object({ app: appName })).use(async function canReachApp({
  ctx,
  input,
  next,
}) {
  if (ctx.caller.role === 'app' && ctx.caller.app !== input.app) {
    throw new TRPCError({ code: 'FORBIDDEN', message: "an application's API key reaches only its own sessions" })
  }
  const app = await ctx.deps.store.apps.get(input.app)
  if (!app) throw new TRPCError({ code: 'NOT_FOUND', message: `no application is named ${JSON.stringify(input.app)}` })
  return next({ ctx: { app, iss: sessionIssuer(app), sessions: ctx.deps.sessions ?? ctx.deps.store } })
})

export const sessionsRouter = router({
  register: sessionProcedure
    .input(
      z.object({ sessionId: id, sub: id, sid: id.optional(), authTime: time.optional(), expiresAt: time.optional() }),
    )
    // Registration is the busiest admin call: built like the store's own records, not by a spread.
    .mutation(async ({ ctx, input }) =>
      publicSession(await ctx.sessions.register(Object.assign({}, input, { iss: ctx.iss }))),
    ),

  status: sessionProcedure
    .input(z.object({ sessionId: id }))
    .query(async ({ ctx, input }) => publicState(await ctx.sessions.status(input.app, input.sessionId))),

  list: sessionProcedure
    .input(z.object({ sub: id }))
    .query(async ({ ctx, input }) => (await ctx.sessions.list(input.app, ctx.iss, input.sub)).map(publicSession)),

  end: sessionProcedure
    .input(z.object({ sessionId: id }))
    .mutation(({ ctx, input }) => ctx.sessions.end(input.app, input.sessionId)),

  revoke: sessionProcedure
    .input(z.object({ sub: id.optional(), sid: id.optional() }))
    .mutation(async ({ ctx, input }) => {
      if (input.sub === undefined && input.sid === undefined) {
        throw new TRPCError({ code: 'BAD_REQUEST', message: 'sub/sid: give at least one' })
      }
      const target: RevocationTarget = {
        app: input.app,
        iss: ctx.iss,
        sub: input.sub,
        sid: input.sid,
        scope: resolvePolicy(ctx.app.policy).logoutScope,
        issuedAt: ctx.now(),
      }
      // Relayed as the gateway's own logout: there is no identity provider's token to forward.
      const relays = (ctx.app.relays ?? []).filter((r) => r.mode !== 'forward')
      if (relays.length > 0) {
        if (!ctx.sessions.relayOutbox) {
          throw new errors.RelaysUnsupported(
            `application ${JSON.stringify(input.app)} has relays, but its session store cannot store their deliveries: relays need the gateway's store`,
          )
        }
        target.relay = { relays }
      }
      const { revoked } = await ctx.sessions.revoke(target)
      await ctx.deps.store.audit.record({
        app: input.app,
        source: 'admin',
        outcome: 'revoked',
        iss: ctx.iss,
        sid: input.sid,
        sub: input.sub,
        revoked,
      })
      return { revoked }
    }),
})
