/**
 * `apps.*`: registering, changing and removing applications (admin token; an application's own
 * API key also reads it, its health, and rotates its secret and key). Every mutation is audited.
 */
import { ASYMMETRIC_ALGORITHMS, HMAC_ALGORITHMS } from '@backchannel/core'
import type { AppRecord } from '@backchannel/unstorage'
import { TRPCError } from '@trpc/server'
import { z } from 'zod'
import { appHealth } from '../_internal/app-health.js'
import { newApiKey, newSecret, secretKey } from '../_internal/credentials.js'
import { settleRelays } from '../_internal/relays.js'
import { algorithms, appName, graceSeconds, policy, relays } from '../_internal/schemas.js'
import { publicApp } from '../public-app.js'
import { hashToken } from '../tokens.js'
import { type AdminContext, adminAction, adminProcedure, ownerAction, ownerProcedure, router } from '../trpc.js'

const bad = (message: string) => new TRPCError({ code: 'BAD_REQUEST', message })

async function load(ctx: AdminContext, name: string): Promise<AppRecord> {
  const app = await ctx.deps.store.apps.get(name)
  if (!app) throw new TRPCError({ code: 'NOT_FOUND', message: `no application is named ${JSON.stringify(name)}` })
  return app
}

async function save(ctx: AdminContext, app: AppRecord, previous: AppRecord) {
  await ctx.deps.store.apps.update(app)
  ctx.deps.onAppChanged?.(app.name, previous)
}

/** `list` when every entry is among `allowed` (the algorithms of one kind of application). */
function pinned<A extends string>(
  list: readonly string[] | undefined,
  allowed: readonly A[],
  kind: string,
): A[] | undefined {
  if (list && !list.every((a) => (allowed as readonly string[]).includes(a))) {
    throw bad(`algorithms: an ${kind} application takes only ${allowed.join(', ')}`)
  }
  return list as A[] | undefined
}

/** The input fields an update sets, by name: `clientId`, `policy.maxTokenAge`. */
function fieldsSet(input: Record<string, unknown>): string[] {
  return Object.entries(input).flatMap(([field, value]) => {
    if (field === 'name' || value === undefined) return []
    if (field === 'policy' && value) return Object.keys(value).map((key) => `policy.${key}`)
    return [field]
  })
}

const createInput = z
  .object({
    name: appName,
    issuer: z.string().min(1).max(2048).optional(),
    clientId: z.string().min(1).max(1024).optional(),
    algorithms: algorithms.optional(),
    policy: policy.optional(),
    relays: relays.optional(),
  })
  .strict()

/** The relays part of a record: none, or the list with the secrets of its `hmac` relays. */
const relayFields = (settled: Awaited<ReturnType<typeof settleRelays>>) =>
  settled.relays.length === 0
    ? {}
    : {
        relays: settled.relays,
        ...(Object.keys(settled.relaySecrets).length === 0 ? {} : { relaySecrets: settled.relaySecrets }),
      }

/** `relaySecrets` in an answer: the secrets this call issued, shown once. */
const issuedSecrets = (issued: Record<string, string>) =>
  Object.keys(issued).length === 0 ? {} : { relaySecrets: issued }

export const appsRouter = router({
  create: adminAction.input(createInput).mutation(async ({ ctx, input }) => {
    const t = ctx.now()
    const apiKey = newApiKey()
    const settled = await settleRelays(ctx, input.relays ?? [])
    const common = {
      name: input.name,
      policy: input.policy ?? {},
      ...relayFields(settled),
      apiKeyHash: hashToken(apiKey),
      createdAt: t,
      updatedAt: t,
    }
    let app: AppRecord
    let secret: string | undefined
    if (input.issuer !== undefined) {
      if (!input.clientId) throw bad('clientId: required with issuer (the client id the provider puts in aud)')
      if (input.policy?.audience !== undefined || input.policy?.issuer !== undefined) {
        throw bad('policy: audience and issuer are for HMAC applications; an OIDC app uses issuer and clientId')
      }
      const found = await ctx.deps.discover(input.issuer, input.clientId)
      app = {
        ...common,
        kind: 'oidc',
        issuer: found.issuer,
        clientId: input.clientId,
        jwksUri: found.jwksUri,
        algorithms: pinned(input.algorithms, ASYMMETRIC_ALGORITHMS, 'OIDC') ?? ['RS256'],
      }
    } else {
      if (input.clientId !== undefined) throw bad('clientId: only with issuer; an HMAC application has none')
      secret = newSecret()
      app = {
        ...common,
        kind: 'hmac',
        secrets: [{ key: secretKey(secret) }],
        algorithms: pinned(input.algorithms, HMAC_ALGORITHMS, 'HMAC') ?? [...HMAC_ALGORITHMS],
      }
    }
    if (!(await ctx.deps.store.apps.create(app))) {
      throw new TRPCError({
        code: 'CONFLICT',
        message: `an application is already named ${JSON.stringify(input.name)}`,
      })
    }
    ctx.deps.onAppChanged?.(app.name, undefined)
    return {
      app: publicApp(app),
      apiKey,
      ...(secret === undefined ? {} : { secret }),
      ...issuedSecrets(settled.issued),
    }
  }),

  list: adminProcedure
    .input(z.object({}).strict().optional())
    .query(async ({ ctx }) => (await ctx.deps.store.apps.list()).map(publicApp)),

  get: ownerProcedure
    .input(z.object({ name: appName }).strict())
    .query(async ({ ctx, input }) => publicApp(await load(ctx, input.name))),

  /**
   * How one application is doing: its last logout, its last refusal and the rule that failed, when
   * its keys were last fetched, its relay backlog (the admin console's pages, the tenant space's too).
   */
  health: ownerProcedure.input(z.object({ name: appName }).strict()).query(async ({ ctx, input }) => {
    const app = await load(ctx, input.name)
    const fetchedAt = app.kind === 'oidc' ? ctx.deps.keysFetchedAt?.(app.jwksUri) : undefined
    return appHealth(ctx.deps.store, app.name, fetchedAt)
  }),

  update: adminAction
    .input(
      z
        .object({
          name: appName,
          clientId: z.string().min(1).max(1024).optional(),
          algorithms: algorithms.optional(),
          policy: policy.optional(),
          /** Replaces the whole list; `[]` removes every relay. */
          relays: relays.optional(),
        })
        .strict(),
    )
    .mutation(async ({ ctx, input }) => {
      const previous = await load(ctx, input.name)
      const updatedAt = ctx.now()
      const policyUpdate = { ...previous.policy, ...input.policy }
      const settled = input.relays && (await settleRelays(ctx, input.relays, previous))
      let app: AppRecord
      if (previous.kind === 'oidc') {
        if (input.policy?.audience !== undefined || input.policy?.issuer !== undefined) {
          throw bad('policy: audience and issuer are for HMAC applications')
        }
        app = {
          ...previous,
          clientId: input.clientId ?? previous.clientId,
          algorithms: pinned(input.algorithms, ASYMMETRIC_ALGORITHMS, 'OIDC') ?? previous.algorithms,
          policy: policyUpdate,
          updatedAt,
        }
      } else {
        if (input.clientId !== undefined) throw bad('clientId: an HMAC application has none')
        app = {
          ...previous,
          algorithms: pinned(input.algorithms, HMAC_ALGORITHMS, 'HMAC') ?? previous.algorithms,
          policy: policyUpdate,
          updatedAt,
        }
      }
      if (settled) {
        const { relays: _relays, relaySecrets: _secrets, ...rest } = app
        app = { ...rest, ...relayFields(settled) } as AppRecord
      }
      await save(ctx, app, previous)
      ctx.audit.fields = fieldsSet(input)
      return { ...publicApp(app), ...issuedSecrets(settled?.issued ?? {}) }
    }),

  delete: adminAction.input(z.object({ name: appName }).strict()).mutation(async ({ ctx, input }) => {
    const previous = await load(ctx, input.name)
    await ctx.deps.store.apps.delete(input.name)
    ctx.deps.onAppChanged?.(input.name, previous)
    if (previous.kind === 'oidc') ctx.deps.forgetKeys?.(previous.jwksUri)
    return { deleted: true as const }
  }),

  rotateSecret: ownerAction
    .input(
      z
        .object({
          name: appName,
          graceSeconds: graceSeconds.optional(),
        })
        .strict(),
    )
    .mutation(async ({ ctx, input }) => {
      const previous = await load(ctx, input.name)
      if (previous.kind !== 'hmac') throw bad('name: only an HMAC application has a secret')
      const secret = newSecret()
      const grace = input.graceSeconds ?? 3600
      const current = previous.secrets[0]
      const t = ctx.now()
      const secrets = [
        { key: secretKey(secret) },
        ...(current && grace > 0 ? [{ key: current.key, notAfter: t + grace }] : []),
      ]
      await save(ctx, { ...previous, secrets, updatedAt: t }, previous)
      return { secret }
    }),

  rotateRelaySecret: adminAction
    .input(z.object({ name: appName, url: z.string().min(1).max(2048) }).strict())
    .mutation(async ({ ctx, input }) => {
      const previous = await load(ctx, input.name)
      if (!previous.relays?.some((r) => r.url === input.url && r.mode === 'hmac')) {
        throw bad(`url: ${input.name} has no hmac relay at ${input.url}`)
      }
      // No grace period: every later attempt signs with the new secret, so the receiver takes it at once.
      const secret = newSecret()
      const relaySecrets = { ...previous.relaySecrets, [input.url]: secret }
      await save(ctx, { ...previous, relaySecrets, updatedAt: ctx.now() }, previous)
      return { secret }
    }),

  rotateApiKey: ownerAction.input(z.object({ name: appName }).strict()).mutation(async ({ ctx, input }) => {
    const previous = await load(ctx, input.name)
    const apiKey = newApiKey()
    await save(ctx, { ...previous, apiKeyHash: hashToken(apiKey), updatedAt: ctx.now() }, previous)
    return { apiKey }
  }),

  rediscover: adminAction.input(z.object({ name: appName }).strict()).mutation(async ({ ctx, input }) => {
    const previous = await load(ctx, input.name)
    if (previous.kind !== 'oidc') throw bad('name: only an OIDC application has an issuer to discover')
    const found = await ctx.deps.discover(previous.issuer, previous.clientId)
    const app: AppRecord = { ...previous, jwksUri: found.jwksUri, updatedAt: ctx.now() }
    await save(ctx, app, previous)
    // The operator asks for the issuer's keys again too, not only its metadata.
    ctx.deps.forgetKeys?.(previous.jwksUri)
    if (app.jwksUri !== previous.jwksUri) ctx.deps.forgetKeys?.(app.jwksUri)
    return publicApp(app)
  }),
})
