/**
 * The typed client of the admin and session API.
 *
 * @example
 * ```ts
 * import { createAdminClient } from '@backchannel/admin/client'
 * const admin = createAdminClient({ url: 'http://localhost:3000/trpc', token: process.env.BACKCHANNEL_ADMIN_TOKEN! })
 * const { app, secret, apiKey } = await admin.apps.create.mutate({ name: 'billing' })
 * ```
 * @module
 */
import { createTRPCClient, httpLink } from '@trpc/client'
import type { AppRouter } from './routers/_app.js'

/** Options of {@link createAdminClient}. */
export interface AdminClientOptions {
  /** The API's URL, e.g. `https://gateway.example.com/trpc`. */
  url: string
  /** The admin token, or an application's API key (which reaches `sessions.*` of that app only). */
  token: string
  /** A fetch implementation (tests, proxies). */
  fetch?: typeof fetch
}

/** A client for every procedure of the admin API, typed from the router. */
export function createAdminClient(options: AdminClientOptions) {
  return createTRPCClient<AppRouter>({
    links: [
      httpLink({
        url: options.url,
        headers: { authorization: `Bearer ${options.token}` },
        ...(options.fetch ? { fetch: options.fetch } : {}),
      }),
    ],
  })
}

/** The client's type. */
export type AdminClient = ReturnType<typeof createAdminClient>
export type { AppRouter }
