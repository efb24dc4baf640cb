/** `audit.list`: the audit log, newest first (admin token only). */
import { z } from 'zod'
import { publicAudit } from '../_internal/public-records.js'
import { appName, auditId } from '../_internal/schemas.js'
import { adminProcedure, router } from '../trpc.js'

export const auditRouter = router({
  list: adminProcedure
    .input(
      z
        .object({
          app: appName.optional(),
          limit: z.number().int().min(1).max(500).optional(),
          before: auditId.optional(),
        })
        .strict()
        .optional(),
    )
    .query(async ({ ctx, input }) => (await ctx.deps.store.audit.list(input ?? {})).map(publicAudit)),
})
