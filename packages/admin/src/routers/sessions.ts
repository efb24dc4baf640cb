/** `sessions.*`: the session registry of one application (admin token, or that app's API key). */
import {
  BackchannelError,
  type RevocationTarget,
  relayRequest,
  resolvePolicy,
  type SessionRevoker,
  type SessionStore,
  sessionIssuer,
} from '@backchannel/core'
import { TRPCError } from '@trpc/server'
import { z } from 'zod'
import { publicSession, publicState } from '../_internal/public-records.js'
import { appName, email, id, time } from '../_internal/schemas.js'
import { type AuditDetails, ownerProcedure, router } from '../trpc.js'

/** Resolves `input.app`, for the admin token or that application's own API key. */
const sessionProcedure = ownerProcedure.input(z.object({ app: appName })).use(async function loadApp({
  ctx,
  input,
  next,
}) {
  const app = await ctx.deps.store.apps.get(input.app)
  if (!app) throw new TRPCError({ code: 'NOT_FOUND', message: `no application is named ${JSON.stringify(input.app)}` })
  return next({ ctx: { app, iss: sessionIssuer(app), sessions: ctx.deps.sessions ?? ctx.deps.store } })
})

/**
 * The gateway ends sessions through a revoker that keeps no registry the API can reach (a revoker
 * plugin's own store): `sessions.register`, `status`, `list` and `end` answer `NOT_IMPLEMENTED`.
 */
export class NoSessionRegistry extends BackchannelError {
  static override readonly code = 'ERR_NO_SESSION_REGISTRY'
}

const isRegistry = (sessions: SessionStore | SessionRevoker): sessions is SessionStore =>
  ['register', 'status', 'list', 'end'].every(
    (m) => typeof (sessions as unknown as Record<string, unknown>)[m] === 'function',
  )

/** A session procedure that needs the registry, not only the revoker. */
const registryProcedure = sessionProcedure.use(async function hasRegistry({ ctx, next }) {
  if (!isRegistry(ctx.sessions)) {
    const cause = new NoSessionRegistry(
      'this gateway ends sessions through a revoker with no session registry (a revoker plugin): ' +
        'register, query and end sessions in its own store; sessions.revoke works here',
    )
    throw new TRPCError({ code: 'NOT_IMPLEMENTED', message: cause.message, cause })
  }
  return next({ ctx: { sessions: ctx.sessions } })
})

export const sessionsRouter = router({
  register: registryProcedure
    .input(
      z.object({
        sessionId: id,
        sub: id,
        sid: id.optional(),
        email: email.optional(),
        authTime: time.optional(),
        expiresAt: time.optional(),
      }),
    )
    // Registration is the busiest admin call: built like the store's own records, not by a spread.
    .mutation(async ({ ctx, input }) =>
      publicSession(await ctx.sessions.register(Object.assign({}, input, { iss: ctx.iss }))),
    ),

  status: registryProcedure
    .input(z.object({ sessionId: id }))
    .query(async ({ ctx, input }) => publicState(await ctx.sessions.status(input.app, input.sessionId))),

  list: registryProcedure
    .input(z.object({ sub: id }))
    .query(async ({ ctx, input }) => (await ctx.sessions.list(input.app, ctx.iss, input.sub)).map(publicSession)),

  end: registryProcedure
    .input(z.object({ sessionId: id }))
    .mutation(({ ctx, input }) => ctx.sessions.end(input.app, input.sessionId)),

  revoke: sessionProcedure
    .meta({ audited: true })
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
      const relay = relayRequest({ name: input.app, relays: ctx.app.relays }, ctx.sessions)
      if (relay) target.relay = relay
      const { revoked } = await ctx.sessions.revoke(target)
      Object.assign(ctx.audit, {
        outcome: 'revoked',
        iss: ctx.iss,
        sid: input.sid,
        sub: input.sub,
        revoked,
      } satisfies AuditDetails)
      return { revoked }
    }),
})
