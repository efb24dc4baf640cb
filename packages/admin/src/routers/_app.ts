/** The root router: `apps.*`, `sessions.*`, `audit.*`, `relays.*`, `keys.*`, `streams.*`, `whoami`. */
import { router } from '../trpc.js'
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
