/**
 * `@backchannel/admin`: the admin and session API of the gateway as a tRPC v11 router, with no
 * HTTP server inside. `@backchannel/server` mounts it at `/trpc`; `./client` is its typed client.
 * @module
 */
export type { AdminClient, AdminClientOptions } from './client.js'
export { createAdminClient } from './client.js'
export { handleAdminRequest } from './handler.js'
export type { PublicApp } from './public-app.js'
export type { AppRouter } from './routers/_app.js'
export { appRouter } from './routers/_app.js'
export { NoSessionRegistry } from './routers/sessions.js'
export type { CreatedStream, PublicStream, StreamWithState } from './routers/streams.js'
export { hashToken, newAdminToken } from './tokens.js'
export type { AdminContext, AdminDependencies, Caller } from './trpc.js'
export { createAdminContext, createCallerFactory } from './trpc.js'
