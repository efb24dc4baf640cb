/**
 * The audit log: one record per logout attempt, newest first, capped per application and overall.
 * A user's `sub` is kept only as a keyed hash (HMAC-SHA-256 under a key derived from the master
 * key): records can be matched to a known user without storing who they are.
 * @module
 */
import { createHmac, hkdfSync, randomBytes } from 'node:crypto'
import { keys } from './_internal/keys.js'
import type { StoreBackend } from './backend.js'

/** What happened to one logout attempt. */
export type AuditOutcome = 'revoked' | 'replayed' | 'rejected' | 'failed'

/** One audit record. */
export interface AuditRecord {
  /** Sortable id; pass it as `before` to read the next page. */
  id: string
  /** Seconds since epoch. */
  at: number
  app: string
  source: 'backchannel' | 'admin'
  outcome: AuditOutcome
  /** The error code of a rejected or failed attempt. */
  code?: string
  iss?: string
  sid?: string
  /** Keyed hash of the `sub` (see {@link AuditLog.hashSub}). */
  subHash?: string
  /** Sessions this logout ended. */
  revoked?: number
}

/** An attempt to record; `sub` is hashed before it is stored. */
export type AuditInput = Omit<AuditRecord, 'id' | 'at' | 'subHash'> & { at?: number; sub?: string }

/** The audit log. */
export interface AuditLog {
  record(entry: AuditInput): Promise<AuditRecord>
  /** Newest first; `limit` default 50, at most 500. */
  list(query?: { app?: string; limit?: number; before?: string }): Promise<AuditRecord[]>
  /** The keyed hash stored for a `sub`, to find a user's records. */
  hashSub(sub: string): string
}

export function createAuditLog(
  backend: StoreBackend,
  masterKey: Uint8Array,
  now: () => number,
  maxEntries = 10_000,
): AuditLog {
  const hashKey = Buffer.from(hkdfSync('sha256', masterKey, '', 'backchannel audit sub', 32))
  const hashSub = (sub: string) => createHmac('sha256', hashKey).update(sub).digest('base64url')
  return {
    hashSub,
    async record({ sub, at = now(), ...entry }) {
      // Milliseconds in base 36, fixed width, then randomness: ids sort by time across instances.
      const id = `${Math.floor(at * 1000)
        .toString(36)
        .padStart(9, '0')}${randomBytes(6).toString('hex')}`
      const record: AuditRecord = { id, at, ...entry, ...(sub === undefined ? {} : { subHash: hashSub(sub) }) }
      const line = JSON.stringify(record)
      await Promise.all([
        backend.append(keys.log(), id, line, maxEntries),
        backend.append(keys.log(entry.app), id, line, maxEntries),
      ])
      return record
    },
    async list({ app, limit = 50, before } = {}) {
      const lines = await backend.read(keys.log(app), Math.min(Math.max(1, limit), 500), before)
      return lines.map((line) => JSON.parse(line) as AuditRecord)
    },
  }
}
