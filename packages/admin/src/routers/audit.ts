/**
 * `audit.list`: the audit log, newest first, optionally filtered: every application's with the
 * admin token, one application's with its API key (`app` set to it, or `FORBIDDEN`).
 */
import type { AuditRecord } from '@backchannel/unstorage'
import { z } from 'zod'
import { publicAudit } from '../_internal/public-records.js'
import { appName, auditId, time } from '../_internal/schemas.js'
import { ownerProcedure, router } from '../trpc.js'

/** The `source` values `audit.list` filters by (the console's filter offers the same). */
export const AUDIT_SOURCES = ['backchannel', 'admin', 'relay', 'ssf'] as const
/** The `outcome` values `audit.list` filters by. */
export const AUDIT_OUTCOMES = [
  'revoked',
  'replayed',
  'rejected',
  'failed',
  'applied',
  'delivered',
  'retry',
  'dead',
  'ignored',
  'unmatched',
] as const
/** Records read from the store per page, and pages read at most, for one filtered call. */
const PAGE = 500
const MAX_PAGES = 10

type Filter = { source?: string; outcome?: string; since?: number; until?: number }

const matches = (r: AuditRecord, f: Filter) =>
  (f.source === undefined || r.source === f.source) &&
  (f.outcome === undefined || r.outcome === f.outcome) &&
  (f.until === undefined || r.at <= f.until)

export const auditRouter = router({
  list: ownerProcedure
    .input(
      z
        .object({
          app: appName.optional(),
          limit: z.number().int().min(1).max(500).optional(),
          before: auditId.optional(),
          source: z.enum(AUDIT_SOURCES).optional().describe('only records of this source'),
          outcome: z.enum(AUDIT_OUTCOMES).optional().describe('only records with this outcome'),
          since: time.optional().describe('only records at or after this time (seconds since epoch)'),
          until: time.optional().describe('only records at or before this time (seconds since epoch)'),
        })
        .strict()
        .optional(),
    )
    .query(async ({ ctx, input = {} }) => {
      const { app, limit = 50, before, ...filter } = input
      const log = ctx.deps.store.audit
      if (Object.values(filter).every((v) => v === undefined)) {
        return (await log.list({ app, limit, before })).map(publicAudit)
      }
      // Filtered: read pages newest first until enough match, the records are older than `since`,
      // or MAX_PAGES were read (a page further is then asked for with `before` = the last id shown).
      const found: AuditRecord[] = []
      let cursor = before
      for (let page = 0; page < MAX_PAGES && found.length < limit; page++) {
        const records = await log.list({ app, limit: PAGE, before: cursor })
        for (const r of records) {
          if (filter.since !== undefined && r.at < filter.since) return found.map(publicAudit)
          if (matches(r, filter) && found.push(r) === limit) break
        }
        if (records.length < PAGE) break
        cursor = records.at(-1)?.id
      }
      return found.map(publicAudit)
    }),
})
