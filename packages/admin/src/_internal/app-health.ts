/**
 * `apps.health`: what an operator looks at first for one application, read from the audit log,
 * the relay outbox and the gateway's key cache. Each figure is bounded: a busy application's
 * last refusal may lie beyond the records read, and then it is not shown.
 */
import type { AuditRecord, GatewayStore } from '@backchannel/unstorage'

/** Audit records read, newest first, to find the last logout and the last refusal. */
const AUDIT_SCAN = 500
/** Deliveries counted per state; a backlog past this is shown as this many. */
const BACKLOG_CAP = 500

/** The health of one application, as `apps.health` returns it. Times are whole seconds since epoch. */
export interface AppHealth {
  /** The newest accepted logout (`source` `backchannel` or `ssf`) among the last {@link AUDIT_SCAN} records. */
  lastLogout?: { at: number; source: string; revoked?: number }
  /** The newest refused one, and the rule it failed (its error code). */
  lastRefusal?: { at: number; source: string; code?: string }
  /** OIDC apps: when this instance last fetched the issuer's key set; absent when it has not yet. */
  keysFetchedAt?: number
  /** Relay deliveries waiting (`pending`) and given up (`dead`), each counted up to {@link BACKLOG_CAP}. */
  relayBacklog: { pending: number; dead: number; capped: boolean }
}

const isLogout = (r: AuditRecord) => r.source === 'backchannel' || r.source === 'ssf'

/** Reads the health of `app` (an existing application's name). */
export async function appHealth(
  store: GatewayStore,
  app: string,
  keysFetchedAt: number | undefined,
): Promise<AppHealth> {
  const [records, pending, dead] = await Promise.all([
    store.audit.list({ app, limit: AUDIT_SCAN }),
    store.outbox.list({ app, state: 'pending', limit: BACKLOG_CAP }),
    store.outbox.list({ app, state: 'dead', limit: BACKLOG_CAP }),
  ])
  const logout = records.find((r) => isLogout(r) && r.outcome === 'revoked')
  const refusal = records.find((r) => isLogout(r) && r.outcome === 'rejected')
  return {
    ...(logout && {
      lastLogout: {
        at: Math.floor(logout.at),
        source: logout.source,
        ...(logout.revoked === undefined ? {} : { revoked: logout.revoked }),
      },
    }),
    ...(refusal && {
      lastRefusal: {
        at: Math.floor(refusal.at),
        source: refusal.source,
        ...(refusal.code === undefined ? {} : { code: refusal.code }),
      },
    }),
    ...(keysFetchedAt === undefined ? {} : { keysFetchedAt: Math.floor(keysFetchedAt) }),
    relayBacklog: {
      pending: pending.length,
      dead: dead.length,
      capped: pending.length === BACKLOG_CAP || dead.length === BACKLOG_CAP,
    },
  }
}
