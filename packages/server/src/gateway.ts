/**
 * `createGateway`: the h3 application of the gateway — the logout route, the Shared Signals push
 * route (`/ssf/:stream`, ssf-route.ts), health, metrics, its
 * `/.well-known` issuer documents, the admin API and the admin console (`/admin`) — over a store, and its split between a public
 * and a management listener ({@link MANAGEMENT_PATHS}). It listens nowhere; `serve.ts` does.
 * @module
 */
import { randomUUID } from 'node:crypto'
import { type AdminDependencies, handleAdminRequest } from '@backchannel/admin'
import { openApiDocument } from '@backchannel/admin/openapi'
import {
  createKeyResolver,
  createLogoutVerifier,
  createSetVerifier,
  errorStatus,
  errors,
  guardStore,
  type IssuerFetchPolicy,
  processSecurityEvent,
  type RelayOutboxRevoker,
  type ReplayStore,
  resolvePolicy,
  type SessionRevoker,
  type SessionStore,
} from '@backchannel/core'
import { checkFetchTarget, createGuardedFetch, discoverIssuer, discoverTransmitter } from '@backchannel/core/discovery'
import type { AppRecord, GatewayStore } from '@backchannel/unstorage'
import { getRequestIP, getRouterParam, H3, type H3Config, type H3Event } from 'h3'
import pino, { type Logger } from 'pino'
import { createAppCache, createStreamCache } from './app-cache.js'
import { createAuditRecorder } from './audit.js'
import { createClientAddress } from './client-address.js'
import { createConsole } from './console/index.js'
import { handleLogout, handleLogoutPath } from './logout-route.js'
import { createMetrics, type Metrics } from './metrics.js'
import { createFailureLimiter, type FailureLimits } from './rate-limit.js'
import { type AttemptDelivery, createAttemptDelivery, type PlanRetry, planRetry } from './relay/attempt.js'
import { createRelayDrainer, type RelayDrainer } from './relay/drainer.js'
import { createGatewaySigner, type GatewaySigner } from './relay/signer.js'
import { createStreamPoller, pollRequestId, type StreamPoller, type StreamPollingOptions } from './ssf/poller.js'
import { createStreamActivity } from './ssf/stream-activity.js'
import { handleSsfPath, handleSsfPush, recordSsfOutcome } from './ssf-route.js'
import { createWellKnown } from './well-known.js'

/** Options of {@link createGateway}. */
export interface GatewayOptions {
  store: GatewayStore
  /**
   * Where sessions live and are revoked, when not in `store`: your own `SessionStore` (e.g. over
   * your application's sessions table), proved with `@backchannel/core/testing`. A bare
   * `SessionRevoker` is enough for logouts and `sessions.revoke`; the rest of the session API then
   * answers `NOT_IMPLEMENTED` (`ERR_NO_SESSION_REGISTRY`). A `RelayOutboxRevoker` keeps its
   * applications' relay deliveries in its own `outbox`, which the drainer and `relays.*` then use.
   */
  sessions?: SessionStore | SessionRevoker
  /** Where `jti`s are claimed when `sessions` is given. Default: `store`. */
  replay?: ReplayStore
  /** SHA-256 (hex) of the admin token. */
  adminTokenHash: string
  /** How requests to identity providers are guarded. */
  fetchPolicy?: IssuerFetchPolicy
  /** The gateway's own issuer (`BACKCHANNEL_PUBLIC_URL`), in `/.well-known` and relayed tokens. Default `http://localhost:3000`. */
  publicUrl?: string
  logger?: Logger
  metrics?: Metrics
  /** Seconds an application (and a Shared Signals stream) stays cached on the hot path. Default 2. */
  appCacheSeconds?: number
  /** Limits on failed logout requests. */
  failureLimits?: FailureLimits
  /**
   * The direct peer is a reverse proxy whatever its address: the client is the rightmost
   * `X-Forwarded-For` entry. Default false. Prefer {@link GatewayOptions.trustedProxies}.
   */
  trustProxy?: boolean
  /** Addresses and CIDRs of reverse proxies: the client is the rightmost `X-Forwarded-For` entry not among them. */
  trustedProxies?: readonly string[]
  /** The clock, seconds since epoch. */
  now?: () => number
  /**
   * Relay deliveries: given (`{}` for the defaults), the gateway runs a drainer over its store's
   * outbox (stopped by `close()`); without it, deliveries wait in the outbox for an instance that
   * has one. `backchannel serve` always runs one.
   */
  relays?: RelayOptions
  /**
   * Poll delivery of Shared Signals streams: given (`{}` for the defaults), the gateway polls the
   * `delivery: "poll"` streams whose lease it holds (stopped by `close()`); without it, it polls
   * none. `backchannel serve` always polls.
   */
  streamPolling?: StreamPollingOptions
}

/** How a gateway delivers relays (see `relay/drainer.ts`); every field has a default. */
export interface RelayOptions {
  /** One attempt at one delivery. Default: `createAttemptDelivery` with this gateway's signer, issuer and fetch policy. */
  attempt?: AttemptDelivery
  /** When to try again, or give up. Default: `planRetry` (1 s, 5 s, 30 s, … 6 h; 8 attempts or 24 h). */
  planRetry?: PlanRetry
  /** Milliseconds between looks for deliveries written by other instances or coming due. Default 1000. */
  pollMs?: number
  /** Seconds a taken delivery is this instance's alone. Default 30. */
  leaseSeconds?: number
}

/**
 * The paths served only on the management listener when there is one
 * (`BACKCHANNEL_MANAGEMENT_ADDRESS`), each with everything below it. The public listener answers
 * them 404; the management listener answers nothing else. An operator-only route belongs here.
 */
export const MANAGEMENT_PATHS: readonly string[] = ['/trpc', '/metrics', '/openapi.json', '/admin']

/**
 * Whether `pathname` is one of {@link MANAGEMENT_PATHS} or below one.
 *
 * @example
 * ```ts
 * isManagementPath('/trpc/apps.list') // true
 * isManagementPath('/trpcx') // false
 * ```
 */
export function isManagementPath(pathname: string): boolean {
  return MANAGEMENT_PATHS.some((path) => pathname === path || pathname.startsWith(`${path}/`))
}

/** One of the two listeners of a gateway with a management address. */
export type Listener = 'public' | 'management'

/** A gateway: its h3 app, a fetch handler, and how to close it. */
export interface Gateway {
  /** Every route: what one listener serves when there is no management address. */
  app: H3
  /** The routes of one listener: `public` answers {@link MANAGEMENT_PATHS} 404, `management` only them. */
  listener(kind: Listener): H3
  fetch: (request: Request) => Promise<Response>
  metrics: Metrics
  /** The gateway's own issuer: its public URL. */
  issuer: string
  /** Signs relayed tokens as {@link Gateway.issuer} and publishes its keys. */
  signer: GatewaySigner
  /**
   * Stops polling streams (a poll in flight is abandoned), stops the relay drainer (waiting for its
   * attempts in flight, a few seconds at most) and waits for the audit records of answered logouts
   * and SETs to be written. Does not close the store.
   */
  close(): Promise<void>
}

/**
 * The request id of a request: its `X-Request-Id` when that is a short token (so that a proxy's
 * id follows the request into the logs), else a new one; nothing else is echoed into logs.
 */
function requestIdOf(incoming: string | null): string {
  return incoming !== null && /^[A-Za-z0-9._:-]{1,64}$/.test(incoming) ? incoming : randomUUID()
}

/** A path of the other listener: 404 in the documented error shape, naming nothing. */
const notServed = () =>
  Response.json(
    { error: 'not_found', error_description: 'nothing is served at this path on this listener' },
    { status: 404, headers: { 'cache-control': 'no-store' } },
  )

/** Whether `revoker` keeps relay deliveries in an outbox of its own (core's `RelayOutboxRevoker`). */
const isRelayOutboxRevoker = (revoker: SessionRevoker): revoker is RelayOutboxRevoker =>
  revoker.relayOutbox === true && typeof (revoker as Partial<RelayOutboxRevoker>).outbox === 'object'

/**
 * Builds the gateway.
 *
 * @example
 * ```ts
 * import { createGateway } from '@backchannel/server'
 * import { memoryStore } from '@backchannel/unstorage/memory'
 * const gateway = createGateway({ store: memoryStore(), adminTokenHash })
 * const res = await gateway.fetch(new Request('http://gw/healthz'))
 * ```
 */
export function createGateway(options: GatewayOptions): Gateway {
  const { store } = options
  const sessions = options.sessions ?? store
  // A revoker that stores deliveries writes them to its own outbox: that is the one to drain.
  const outbox = isRelayOutboxRevoker(sessions) ? guardStore(sessions.outbox) : store.outbox
  const now = options.now ?? (() => Date.now() / 1000)
  const logger = options.logger ?? pino({ level: 'silent' })
  const metrics = options.metrics ?? createMetrics()
  const fetchPolicy = options.fetchPolicy ?? {}
  // When each key set was last fetched by this instance: the console's application health.
  const keysFetchedAt = new Map<string, number>()
  const keys = createKeyResolver({
    // Node's guarded fetch: resolved addresses checked at connect time, and the proxy.
    fetch: createGuardedFetch(fetchPolicy),
    now,
    onFetch: ({ jwksUri, ok }) => {
      metrics.jwksFetches.inc({ result: ok ? 'ok' : 'error' })
      if (ok) keysFetchedAt.set(jwksUri, now())
    },
  })
  const verifiers = { logout: createLogoutVerifier({ keys }), set: createSetVerifier({ keys }) }
  const issuer = options.publicUrl ?? 'http://localhost:3000'
  const signer = createGatewaySigner({ keys: store.keys, now })
  const wellKnown = createWellKnown(issuer, signer, logger)
  const apps = createAppCache(store.apps, options.appCacheSeconds ?? 2, now)
  // Read by every pushed SET: cached as applications are, and dropped here when one changes.
  const streams = createStreamCache(store.streams, options.appCacheSeconds ?? 2, now)
  const audit = createAuditRecorder(store.audit, logger, now)
  const drainer: RelayDrainer | undefined =
    options.relays &&
    createRelayDrainer({
      attempt: createAttemptDelivery({ signer, issuer, fetchPolicy, now }),
      planRetry,
      ...options.relays,
      outbox,
      apps,
      audit,
      metrics,
      logger,
      now,
    })
  const logout = {
    flow: {
      apps,
      verifier: verifiers.logout,
      revoker: sessions,
      // Your own sessions keep jtis in the gateway's store, or your replay store; the gateway's own
      // store claims and revokes in one write.
      ...(options.sessions ? { replay: options.replay ?? store } : {}),
      now,
      onError: (err: unknown) => logger.error({ err }, 'a replay claim could not be given back'),
    },
    audit,
    limiter: createFailureLimiter(options.failureLimits ?? {}, now),
    metrics,
    logger,
    // The logout is stored by now: a failure here must not turn its 200 into an error.
    relayed:
      drainer &&
      ((name: string) =>
        apps
          .get(name)
          .then((app) => relayed(drainer, app))
          .catch((err: unknown) => logger.warn({ err, app: name }, 'could not wait for the first relay attempts'))),
  }
  const ssf = {
    flow: {
      streams: { get: streams.get, recordEvent: store.streams.recordEvent.bind(store.streams) },
      apps,
      // The same key resolver as logouts: a transmitter that is also an OIDC issuer has one key set.
      verifier: verifiers.set,
      revoker: sessions,
      replay: options.replay ?? store,
      now,
    },
    audit,
    limiter: logout.limiter,
    metrics,
    logger,
    revoked: drainer && (() => void drainer.wake()),
    seen: createStreamActivity(store.streams, now, logger),
  }
  const poller: StreamPoller | undefined =
    options.streamPolling &&
    createStreamPoller(options.streamPolling, {
      streams: store.streams,
      fetchPolicy,
      logger,
      now,
      // The same flow and records as a pushed SET: one pipeline.
      process: async (token, stream) => {
        const outcome = await processSecurityEvent(token, stream, ssf.flow)
        if (outcome.result === 'revoked') ssf.revoked?.()
        recordSsfOutcome(outcome, false, pollRequestId(), ssf)
        return outcome
      },
    })
  const admin: AdminDependencies = {
    store: outbox === store.outbox ? store : { ...store, outbox },
    sessions,
    adminTokenHash: options.adminTokenHash,
    now,
    discover: (issuer, clientId) => discoverIssuer(issuer, { clientId, fetchPolicy }),
    discoverTransmitter: (issuer) => discoverTransmitter(issuer, fetchPolicy),
    transmitterFetch: createGuardedFetch(fetchPolicy),
    checkStreamUrl: (url, what) => checkFetchTarget(url, what, fetchPolicy),
    publicUrl: issuer,
    checkRelayUrl: (url) => checkFetchTarget(url, 'relay', fetchPolicy),
    onAppChanged: (name) => {
      apps.invalidate(name)
      logger.info({ app: name }, 'application changed')
    },
    forgetKeys: (jwksUri) => keys.forget(jwksUri),
    onStreamChanged: (name) => streams.invalidate(name),
    onAuditLost: (err, record) => logger.error({ app: record.app, action: record.action, err }, 'audit record lost'),
    keysFetchedAt: (jwksUri) => keysFetchedAt.get(jwksUri),
    onKeysRotated: () => {
      signer.refresh()
      logger.info('signing keys rotated')
    },
  }

  const clientAddress = createClientAddress({
    trustPeer: options.trustProxy ?? false,
    trustedProxies: options.trustedProxies ?? [],
  })
  const adminConsole = createConsole({
    admin,
    store,
    publicUrl: issuer,
    verifiers,
    // Failed sign-ins are counted as failed logouts are, per address, with the same limits.
    limiter: createFailureLimiter(options.failureLimits ?? {}, now),
    // Behind a trusted proxy that terminates TLS, requests arrive over http: the public URL tells.
    secureCookies:
      issuer.startsWith('https:') && (options.trustProxy === true || (options.trustedProxies?.length ?? 0) > 0),
    now,
    onError: (err) => logger.error({ err }, 'admin console error'),
  })
  const caller = (event: H3Event) => ({
    address: clientAddress(getRequestIP(event), event.req.headers.get('x-forwarded-for')),
    requestId: event.context.requestId as string,
  })

  const config: H3Config = {
    // Malformed percent-encoding reaches the logout route, which answers it in its own shape.
    allowMalformedURL: true,
    // Hooks rather than a middleware with `event.res.headers`: h3 would then copy every answer
    // into a new Response to merge those headers in.
    onRequest: (event) => {
      event.context.requestId = requestIdOf(event.req.headers.get('x-request-id'))
    },
    onResponse: (response, event) => {
      response.headers.set('x-request-id', event.context.requestId as string)
    },
  }
  const app = new H3(config)
    .all('/auth/logout/:app', (event) =>
      handleLogout(event.req, getRouterParam(event, 'app') ?? '', caller(event), logout),
    )
    // Paths near the route (`/auth/logout/`, `/auth/logout/a/b`) are unknown applications, not h3's 404.
    .all('/auth/logout', (event) => handleLogoutPath(caller(event), logout))
    .all('/auth/logout/**', (event) => handleLogoutPath(caller(event), logout))
    .all('/ssf/:stream', (event) => handleSsfPush(event.req, getRouterParam(event, 'stream') ?? '', caller(event), ssf))
    .all('/ssf', (event) => handleSsfPath(caller(event), ssf))
    .all('/ssf/**', (event) => handleSsfPath(caller(event), ssf))
    .get('/healthz', () => Response.json({ status: 'ok' }))
    .get('/.well-known/openid-configuration', wellKnown.openidConfiguration)
    .get('/.well-known/jwks.json', wellKnown.jwks)
    .get('/readyz', async () => {
      try {
        await store.ping()
        return Response.json({ status: 'ready' })
      } catch (err) {
        logger.warn({ err }, 'not ready: the store does not answer')
        // Not ready means the store is unavailable, whatever it threw: the table says how to answer.
        const { status, retryAfter } = errorStatus(new errors.StoreUnavailable('the store does not answer'))
        return Response.json({ status: 'unavailable' }, { status, headers: { 'retry-after': String(retryAfter) } })
      }
    })
    .get(
      '/metrics',
      async () =>
        new Response(await metrics.text(), {
          headers: { 'content-type': metrics.registry.contentType },
        }),
    )
    .all('/trpc/**', (event) => handleAdminRequest(event.req, admin))
    .all('/admin', (event) => adminConsole.handle(event, caller(event).address))
    .all('/admin/**', (event) => adminConsole.handle(event, caller(event).address))
    // Unauthenticated: the document describes the API and holds no secret (generated once, on first ask).
    .get('/openapi.json', () => Response.json(openApiDocument()))

  return {
    app,
    // The same routes behind a middleware that refuses the other listener's paths.
    listener: (kind) =>
      new H3(config)
        .use((event) => (isManagementPath(event.url.pathname) === (kind === 'management') ? undefined : notServed()))
        .mount('/', app),
    fetch: async (request) => app.fetch(request),
    metrics,
    issuer,
    signer,
    async close() {
      await poller?.close()
      await drainer?.close()
      await audit.close()
    },
  }
}

/**
 * After a logout with relays: wakes the drainer at once and waits up to the app's
 * `policy.relayWaitMs` for that pass, so that a post-logout redirect does not beat the relays.
 */
async function relayed(drainer: RelayDrainer, app: AppRecord | undefined): Promise<void> {
  if (!app?.relays?.length) return
  const pass = drainer.wake()
  const waitMs = resolvePolicy(app.policy).relayWaitMs
  if (waitMs <= 0) return
  let timer: NodeJS.Timeout | undefined
  await Promise.race([pass, new Promise((resolve) => (timer = setTimeout(resolve, waitMs)))])
  clearTimeout(timer)
}
