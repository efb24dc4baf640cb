/** The root router: `apps.*`, `sessions.*`, `audit.*`, `relays.*`. */
import { router } from '../trpc.js'
import { appsRouter } from './apps.js'
import { auditRouter } from './audit.js'
import { relaysRouter } from './relays.js'
import { sessionsRouter } from './sessions.js'

/**
 * The admin and session API. Serve it with `handleAdminRequest`, or call it in process:
 * `createCallerFactory(appRouter)(await createAdminContext(deps, request))`.
 */
export const appRouter = router({
  apps: appsRouter,
  sessions: sessionsRouter,
  audit: auditRouter,
  relays: relaysRouter,
})

/** The type clients are generated from. */
export type AppRouter = typeof appRouter
