/**
 * The audit log: one record per logout attempt or admin action, newest first, capped per application and overall.
 * A user's `sub` is kept only as a keyed hash (HMAC-SHA-256 under a key derived from the master
 * key): records can be matched to a known user without storing who they are.
 * @module
 */
import { createHmac, createSecretKey, hkdfSync, randomBytes } from 'node:crypto'
import { keys } from './_internal/keys.js'
import type { LogEntry, StoreBackend } from './backend.js'
import type { AuditLog, AuditRecord } from './gateway-store.js'

type Settle = (write: Promise<void>) => void
const noop = () => {}

/** How long a record waits for others to share its backend write, in milliseconds. */
export const AUDIT_BATCH_MS = 10

/** The audit log, and `close()`: writes the records still waiting, and waits for every write. */
export type BatchedAuditLog = AuditLog & { close(): Promise<void> }

/**
 * The audit log over a backend, capped at `maxEntries` per application and overall. Records
 * made within {@link AUDIT_BATCH_MS} of each other go to the backend in one append (one journal
 * line, Lua script or insertMany); each record's promise resolves once its batch is written.
 */
export function createAuditLog(
  backend: StoreBackend,
  masterKey: Uint8Array,
  now: () => number,
  maxEntries = 10_000,
): BatchedAuditLog {
  // A KeyObject, made once: createHmac with raw bytes would import the key on every record.
  const hashKey = createSecretKey(Buffer.from(hkdfSync('sha256', masterKey, '', 'backchannel audit sub', 32)))
  const hashSub = (sub: string) => createHmac('sha256', hashKey).update(sub).digest('base64url')
  const instance = randomBytes(4).toString('hex')
  let sequence = 0

  // One backend write per batch, not per record: a logout's own write cost more than the rest of its record.
  let batch: { entries: LogEntry[]; timer: NodeJS.Timeout; written: Promise<void>; settle: Settle } | undefined
  const writing = new Set<Promise<void>>()
  const flush = () => {
    if (!batch) return
    const { entries, timer, settle } = batch
    batch = undefined
    clearTimeout(timer)
    const write = backend.append(entries, maxEntries)
    settle(write)
    const settled: Promise<void> = write.then(noop, noop).then(() => {
      writing.delete(settled)
    })
    writing.add(settled)
  }
  const append = (entries: LogEntry[]) => {
    if (!batch) {
      let settle: Settle = noop
      const written = new Promise<void>((resolve) => {
        settle = resolve
      })
      batch = { entries: [], timer: setTimeout(flush, AUDIT_BATCH_MS), written, settle }
    }
    batch.entries.push(...entries)
    return batch.written
  }

  return {
    hashSub,
    async record({ sub, at = now(), ...entry }) {
      // Milliseconds in base 36, fixed width, then this instance and a counter: ids sort by time
      // and never collide across instances.
      sequence = (sequence + 1) % 0x1000000
      const id = `${Math.floor(at * 1000)
        .toString(36)
        .padStart(9, '0')}${instance}${sequence.toString(36).padStart(5, '0')}`
      const record: AuditRecord = { id, at, ...entry, ...(sub === undefined ? {} : { subHash: hashSub(sub) }) }
      const line = JSON.stringify(record)
      // A record of no application (an action on the gateway itself) is in the overall log only.
      const global = { log: keys.log(), id, entry: line }
      await append(entry.app === undefined ? [global] : [global, { log: keys.log(entry.app), id, entry: line }])
      return record
    },
    async list({ app, limit = 50, before } = {}) {
      const lines = await backend.read(keys.log(app), Math.min(Math.max(1, limit), 500), before)
      return lines.map((line) => JSON.parse(line) as AuditRecord)
    },
    async close() {
      flush()
      await Promise.all([...writing])
    },
  }
}
