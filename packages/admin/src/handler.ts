/** Serving the router over fetch-style HTTP (plain JSON, no transformer: curl works). */
import { fetchRequestHandler } from '@trpc/server/adapters/fetch'
import { appRouter } from './routers/_app.js'
import { type AdminDependencies, createAdminContext } from './trpc.js'

/**
 * Answers one request to the admin API mounted at `endpoint` (default `/trpc`).
 *
 * @example
 * ```ts
 * app.all('/trpc/**', (event) => handleAdminRequest(event.req, deps))  // h3
 * ```
 */
export function handleAdminRequest(request: Request, deps: AdminDependencies, endpoint = '/trpc'): Promise<Response> {
  return fetchRequestHandler({
    endpoint,
    req: request,
    router: appRouter,
    createContext: () => createAdminContext(deps, request),
    responseMeta: () => ({ headers: { 'cache-control': 'no-store' } }),
  })
}
