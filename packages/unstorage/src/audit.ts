/**
 * The audit log: one record per logout attempt, newest first, capped per application and overall.
 * A user's `sub` is kept only as a keyed hash (HMAC-SHA-256 under a key derived from the master
 * key): records can be matched to a known user without storing who they are.
 * @module
 */
import { createHmac, createSecretKey, hkdfSync, randomBytes } from 'node:crypto'
import { keys } from './_internal/keys.js'
import type { LogEntry, StoreBackend } from './backend.js'
import type { AuditLog, AuditRecord } from './gateway-store.js'

/** The audit log over a backend, capped at `maxEntries` per application and overall. */
export function createAuditLog(
  backend: StoreBackend,
  masterKey: Uint8Array,
  now: () => number,
  maxEntries = 10_000,
): AuditLog {
  // A KeyObject, made once: createHmac with raw bytes would import the key on every record.
  const hashKey = createSecretKey(Buffer.from(hkdfSync('sha256', masterKey, '', 'backchannel audit sub', 32)))
  const hashSub = (sub: string) => createHmac('sha256', hashKey).update(sub).digest('base64url')
  const instance = randomBytes(4).toString('hex')
  let sequence = 0

  // The records of one turn of the event loop go to the backend together, in one write (one Lua
  // script on Redis, one insertMany on MongoDB) instead of one each. Each record's promise still
  // resolves once it is stored. The gateway records a logout after answering it: no answer waits.
  let batch: { entries: LogEntry[]; written: Promise<void> } | undefined
  const append = (entries: LogEntry[]) => {
    if (!batch) {
      const next: LogEntry[] = []
      const written = new Promise((resolve) => setImmediate(resolve)).then(() => {
        batch = undefined
        return backend.append(next, maxEntries)
      })
      batch = { entries: next, written }
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
      await append([
        { log: keys.log(), id, entry: line },
        { log: keys.log(entry.app), id, entry: line },
      ])
      return record
    },
    async list({ app, limit = 50, before } = {}) {
      const lines = await backend.read(keys.log(app), Math.min(Math.max(1, limit), 500), before)
      return lines.map((line) => JSON.parse(line) as AuditRecord)
    },
  }
}
