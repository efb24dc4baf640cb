/** The root router: `apps.*`, `sessions.*`, `audit.*`, `relays.*`, `keys.*`, `streams.*`, `whoami`. */
import { type Role, router } from '../trpc.js'
import { appsRouter } from './apps.js'
import { auditRouter } from './audit.js'
import { keysRouter } from './keys.js'
import { relaysRouter } from './relays.js'
import { sessionsRouter } from './sessions.js'
import { streamsRouter } from './streams.js'
import { whoami } from './whoami.js'

/**
 * The admin and session API. Serve it with `handleAdminRequest`, or call it in process:
 * `createCallerFactory(appRouter)(await createAdminContext(deps, request))`.
 */
export const appRouter = router({
  apps: appsRouter,
  sessions: sessionsRouter,
  audit: auditRouter,
  relays: relaysRouter,
  keys: keysRouter,
  streams: streamsRouter,
  whoami,
})

/** The type clients are generated from. */
export type AppRouter = typeof appRouter

/**
 * The role a procedure declares (`admin`, `owner` or `any`), by its path; `undefined` for a path
 * the router does not have. The CLI and the console name it when a token may not call it.
 *
 * @example
 * ```ts
 * roleOf('apps.update') // 'admin'
 * roleOf('apps.rotateSecret') // 'owner'
 * ```
 */
export function roleOf(path: string): Role | undefined {
  const procedures = appRouter._def.procedures as unknown as Record<string, { _def: { meta?: { role?: Role } } }>
  return Object.hasOwn(procedures, path) ? procedures[path]?._def.meta?.role : undefined
}
