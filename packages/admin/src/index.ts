/**
 * `@backchannel/admin`: the admin and session API of the gateway as a tRPC v11 router, with no
 * HTTP server inside. `@backchannel/server` mounts it at `/trpc`; `./client` is its typed client.
 * @module
 */

export type { AppHealth } from './_internal/app-health.js'
export { sameHash } from './_internal/credentials.js'
export type { PublicSession } from './_internal/public-records.js'
export { isAppName } from './_internal/schemas.js'
export type { AdminClient, AdminClientOptions } from './client.js'
export { createAdminClient } from './client.js'
export { handleAdminRequest } from './handler.js'
export type { PublicApp } from './public-app.js'
export type { AppRouter } from './routers/_app.js'
export { appRouter, roleOf } from './routers/_app.js'
export { AUDIT_OUTCOMES, AUDIT_SOURCES } from './routers/audit.js'
export type { PublicDelivery } from './routers/relays.js'
export { NoSessionRegistry } from './routers/sessions.js'
export type { CreatedStream, PublicStream, StreamWithState } from './routers/streams.js'
export { hashToken, newAdminToken } from './tokens.js'
export type { AdminContext, AdminDependencies, AdminMeta, Caller, Role } from './trpc.js'
export { createAdminContext, createCallerFactory, errorMessage, ROLE_TOKENS } from './trpc.js'
