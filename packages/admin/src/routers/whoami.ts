/** `whoami`: which role the token of this call holds (any valid token). */
import { authenticatedProcedure } from '../trpc.js'

/** `{ role: "admin" }` for the admin token, `{ role: "owner", app }` for an application's API key. */
export const whoami = authenticatedProcedure.query(({ ctx }) =>
  ctx.caller.role === 'app' ? { role: 'owner' as const, app: ctx.caller.app } : { role: 'admin' as const },
)
