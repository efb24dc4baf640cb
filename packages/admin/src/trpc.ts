/**
 * The one tRPC instance of the admin API, its context, and the procedures every router builds
 * on: who is calling is settled once in the context; what they may reach, in named middlewares.
 * @module
 */
import { BackchannelError, errorStatus, type SessionRevoker, type SessionStore } from '@backchannel/core'
import type { DiscoveredIssuer, DiscoveredTransmitter, GuardedFetch } from '@backchannel/core/discovery'
import type { AppRecord, AuditInput, GatewayStore } from '@backchannel/unstorage'
import { isDeliveryId } from '@backchannel/unstorage'
import { initTRPC, TRPCError } from '@trpc/server'
import { sameHash } from './_internal/credentials.js'
import { hashToken } from './tokens.js'

/** What the admin API needs from the gateway. */
export interface AdminDependencies {
  store: GatewayStore
  /**
   * Where sessions live, when not in `store` (a custom session store). A bare `SessionRevoker`
   * serves `sessions.revoke`; `register`, `status`, `list` and `end` then answer `NOT_IMPLEMENTED`.
   */
  sessions?: SessionStore | SessionRevoker
  /** Runs discovery for an issuer with the gateway's fetch policy (`discoverIssuer` of core). */
  discover: (issuer: string, clientId: string) => Promise<DiscoveredIssuer>
  /**
   * Reads a Shared Signals transmitter's metadata with the gateway's fetch policy
   * (`discoverTransmitter` of core). Default: that discovery with the strictest policy.
   */
  discoverTransmitter?: (issuer: string) => Promise<DiscoveredTransmitter>
  /**
   * How `streams.connect` and `streams.verify` reach a transmitter's management API (core's
   * guarded fetch with the gateway's fetch policy). Default: that fetch with the strictest policy.
   */
  transmitterFetch?: GuardedFetch
  /**
   * Refuses a transmitter URL (configuration, verification or poll endpoint; `what` names it) the
   * gateway would not reach (`checkFetchTarget` with its fetch policy). Default: the strictest policy.
   */
  checkStreamUrl?: (url: URL, what: string) => Promise<void>
  /** The gateway's public URL (`BACKCHANNEL_PUBLIC_URL`): streams' push URLs and default audience. Default `http://localhost:3000`. */
  publicUrl?: string
  /** SHA-256 (hex) of the admin token. */
  adminTokenHash: string
  /** The clock, seconds since epoch. */
  now?: () => number
  /**
   * Refuses a relay URL the gateway would not post to (`checkFetchTarget` of core's discovery with
   * the gateway's fetch policy). Default: that check with the strictest policy (`https:`, public addresses).
   */
  checkRelayUrl?: (url: URL) => Promise<void>
  /** Told after an application was created, changed or deleted (drop caches). */
  onAppChanged?: (name: string, previous: AppRecord | undefined) => void
  /**
   * Drops the cached key set of `jwksUri` (and its refetch cooldown), so that it is fetched again:
   * after `apps.rediscover` and `apps.delete` only. The set is shared by every application of that
   * `jwks_uri`: an owner's own change (`apps.rotateApiKey`) must not reset it for all of them.
   */
  forgetKeys?: (jwksUri: string) => void
  /** Told after a stream was created, connected or deleted (drop caches). */
  onStreamChanged?: (name: string) => void
  /**
   * Told when an admin action took effect but its audit record could not be written: the call
   * still answers, since what it did (a secret shown once) cannot be undone.
   */
  onAuditLost?: (error: unknown, record: AuditInput) => void
  /**
   * When this instance last fetched the key set at `jwksUri`, seconds since epoch (`apps.health`);
   * `undefined` when it has not. Default: never known.
   */
  keysFetchedAt?: (jwksUri: string) => number | undefined
  /** Told after `keys.rotate` (sign with the new key at once on this instance). */
  onKeysRotated?: () => void
}

/**
 * Who may call a procedure: `admin`, the admin token only; `owner`, the admin token or the API key
 * of the application the input names (see {@link ownerProcedure}); `any`, any valid token (`whoami`).
 */
export type Role = 'admin' | 'owner' | 'any'

/** The tokens each {@link Role} accepts, in words (the CLI's help and refusals, the OpenAPI document). */
export const ROLE_TOKENS: Readonly<Record<Role, string>> = {
  admin: 'the admin token only',
  owner: "the admin token, or the API key of the application the input names (app or name; its owner's)",
  any: "any valid token: the admin token or an application's API key",
}

/** What a procedure declares in `.meta(…)`; its builder declares its `role`. */
export interface AdminMeta {
  /** Who may call it. Every procedure has one: a call of a procedure without it is refused. */
  role?: Role
  /**
   * An admin action: each call that succeeds leaves one audit record (`source: "admin"`, the
   * procedure as `action`, the caller as `actor`, the input's `name` or `app` as `app`).
   */
  audited?: boolean
}

/**
 * What an audited procedure's handler may add to its record (`ctx.audit`), beyond who did what
 * to which application. Field names only, never a secret's value.
 */
export type AuditDetails = Partial<
  Pick<AuditInput, 'app' | 'outcome' | 'iss' | 'sub' | 'sid' | 'revoked' | 'fields' | 'delivery'>
>

/** Who is calling. */
export type Caller = { role: 'admin' } | { role: 'app'; app: string } | { role: 'anonymous' } | { role: 'unknown' }

/** The context of one call. */
export interface AdminContext {
  deps: AdminDependencies
  caller: Caller
  now: () => number
}

/**
 * Reads the caller from `Authorization: Bearer <token>`: the admin token, an application's API
 * key, or nobody.
 */
export async function createAdminContext(deps: AdminDependencies, request: Request): Promise<AdminContext> {
  const now = deps.now ?? (() => Date.now() / 1000)
  const token = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.get('authorization') ?? '')?.[1]
  if (!token) return { deps, now, caller: { role: 'anonymous' } }
  const hash = hashToken(token)
  if (sameHash(hash, deps.adminTokenHash)) return { deps, now, caller: { role: 'admin' } }
  const app = await deps.store.apps.findByApiKeyHash(hash)
  return { deps, now, caller: app ? { role: 'app', app } : { role: 'unknown' } }
}

/**
 * HTTP status → tRPC code, so that a coded error gets the status core's one table gives it (the
 * codes tRPC answers with those statuses). A 500 stays INTERNAL_SERVER_ERROR, message hidden.
 */
const TRPC_CODE_BY_STATUS: Readonly<Record<number, TRPCError['code']>> = {
  400: 'BAD_REQUEST',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_SUPPORTED',
  413: 'PAYLOAD_TOO_LARGE',
  429: 'TOO_MANY_REQUESTS',
  503: 'SERVICE_UNAVAILABLE',
}

/**
 * The message the API answers an error with: a bad input names each field that failed
 * (`policy.maxTokenAge: Too big…`); an internal error says only that. The admin console shows
 * errors of in-process calls with it, so they read as the API's.
 *
 * @example
 * ```ts
 * try { await caller.apps.create({ name: 'Bad Name' }) } catch (err) { errorMessage(err as TRPCError) }
 * // 'name: must be 1–63 lowercase letters, digits or "-", not starting with "-"'
 * ```
 */
export function errorMessage(error: TRPCError): string {
  if (error.code === 'INTERNAL_SERVER_ERROR') return 'internal error'
  const issues = (error.cause as { issues?: { path: PropertyKey[]; message: string }[] } | undefined)?.issues
  return error.code === 'BAD_REQUEST' && Array.isArray(issues)
    ? issues.map((i) => `${i.path.map(String).join('.') || 'input'}: ${i.message}`).join('; ')
    : error.message
}

// The context and the meta every procedure may declare (see AdminMeta).
const withMeta = initTRPC.context<AdminContext>().meta<AdminMeta>()
const t = withMeta.create({
  errorFormatter({ shape, error }) {
    const cause = error.cause
    const backchannelCode = cause instanceof BackchannelError ? cause.code : undefined
    // Never leak a stack or an internal message to API callers.
    const data = { code: shape.data.code, httpStatus: shape.data.httpStatus, path: shape.data.path, backchannelCode }
    return { ...shape, message: errorMessage(error), data }
  },
})

/** Builds a router on the admin API's tRPC instance. */
export const router = t.router
/** Calls procedures in process (tests, scripts): `createCallerFactory(appRouter)(context)`. */
export const createCallerFactory = t.createCallerFactory

const mapBackchannelErrors = t.middleware(async function mapBackchannelErrors({ next }) {
  const result = await next()
  const cause = result.ok ? undefined : result.error.cause
  if (cause instanceof BackchannelError) {
    const code = TRPC_CODE_BY_STATUS[errorStatus(cause).status]
    if (code) throw new TRPCError({ code, message: cause.message, cause })
  }
  return result
})

/**
 * Records each successful call of a procedure declared `.meta({ audited: true })`. Refused calls
 * (FORBIDDEN and every other error) change nothing and are not recorded: the log is capped, and
 * any API key could otherwise push the record of real changes out of it.
 */
const recordAdminAction = t.middleware(async function recordAdminAction({ ctx, meta, path, getRawInput, next }) {
  const audit: AuditDetails = {}
  const result = await next({ ctx: { audit } })
  if (!meta?.audited || !result.ok) return result
  // The input passed the procedure's schema by now; only its target's name is read from it.
  const app = nameIn(await getRawInput())
  const record: AuditInput = {
    // A stream's name is no application's: an app of the same name must not read its records.
    ...(app === undefined ? {} : path.startsWith('streams.') ? { stream: app } : { app }),
    source: 'admin',
    action: path,
    actor: ctx.caller.role === 'app' ? `owner:${ctx.caller.app}` : 'admin',
    outcome: 'applied',
    ...audit,
  }
  await ctx.deps.store.audit.record(record).catch((err: unknown) => ctx.deps.onAuditLost?.(err, record))
  return result
})

/** A procedure built on none of the builders below has no role: refused, never open by omission. */
const requireRole = t.middleware(async function requireRole({ meta, path, next }) {
  if (!meta?.role) throw new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: `${path} declares no role` })
  return next()
})

// The recorder wraps every check below it: a refused call fails, so it is never recorded.
const base = t.procedure.use(mapBackchannelErrors).use(recordAdminAction).use(requireRole)

/** Any caller with a valid token (`whoami`). */
export const authenticatedProcedure = base.meta({ role: 'any' }).use(async function isAuthenticated({ ctx, next }) {
  if (ctx.caller.role === 'anonymous') {
    throw new TRPCError({ code: 'UNAUTHORIZED', message: 'send Authorization: Bearer <admin token or API key>' })
  }
  if (ctx.caller.role === 'unknown') throw new TRPCError({ code: 'UNAUTHORIZED', message: 'the token is not valid' })
  return next()
})

/** The admin token only. */
export const adminProcedure = authenticatedProcedure.meta({ role: 'admin' }).use(async function isAdmin({ ctx, next }) {
  if (ctx.caller.role !== 'admin') throw new TRPCError({ code: 'FORBIDDEN', message: 'this needs the admin token' })
  return next()
})

/** The admin token only, and each call that succeeds is an audit record (see {@link AdminMeta}). */
export const adminAction = adminProcedure.meta({ audited: true })

/**
 * The application a call's input names: its `app`, its `name`, or (`relays.retry { id }`) the
 * application of the relay delivery `id`; `undefined` when it names none.
 */
async function targetApp(ctx: AdminContext, input: unknown): Promise<string | undefined> {
  const named = nameIn(input)
  if (named !== undefined) return named
  const id = (input as { id?: unknown } | null)?.id
  if (typeof id === 'string' && isDeliveryId(id)) return (await ctx.deps.store.outbox.get(id))?.app
  return undefined
}

/**
 * The target an input names, `app` before `name`: the one order for the owner check and the audit
 * record, so a call is never checked against one application and recorded under another.
 */
function nameIn(input: unknown): string | undefined {
  if (typeof input !== 'object' || input === null) return undefined
  const { app, name } = input as Record<string, unknown>
  return typeof app === 'string' ? app : typeof name === 'string' ? name : undefined
}

/**
 * The admin token, or the API key of the application the input names (its owner). An owner's call
 * that names no application, or another one, is `FORBIDDEN` before the handler runs. The target is
 * read from the input as sent, which the procedure's schema then validates: an application's name
 * is never transformed, so the one checked here is the one the handler gets.
 */
export const ownerProcedure = authenticatedProcedure.meta({ role: 'owner' }).use(async function isOwner({
  ctx,
  getRawInput,
  next,
}) {
  if (ctx.caller.role === 'admin') return next()
  const target = await targetApp(ctx, await getRawInput())
  if (ctx.caller.role !== 'app' || target !== ctx.caller.app) {
    throw new TRPCError({
      code: 'FORBIDDEN',
      message:
        target === undefined
          ? "an application's API key must name its own application (app)"
          : "an application's API key reaches only its own application",
    })
  }
  return next()
})

/** {@link ownerProcedure}, and each call that succeeds is an audit record naming the owner as actor. */
export const ownerAction = ownerProcedure.meta({ audited: true })
