/**
 * The audit records of logouts, written in batches. The gateway answers a logout before
 * recording it; each record then waits up to {@link DELAY_MS} for others, and all of them go to
 * the store in one turn of the event loop, which the store writes as one append (one journal
 * write, Lua script or insertMany). When logouts come one at a time, a write each cost more than
 * the rest of the record (BENCHMARKS.md, tenth round). A revocation over the admin API records
 * its own, before it is answered.
 */
import type { AuditInput, AuditLog } from '@backchannel/unstorage'
import type { Logger } from 'pino'

/** How long a logout's audit record waits for others to share its write, in milliseconds. */
const DELAY_MS = 10

export interface AuditQueue {
  /** Records `entry` within {@link DELAY_MS}, stamped with the time of this call. */
  add(entry: AuditInput): void
  /** Writes what is waiting now, and resolves once every record is written (or reported lost). */
  close(): Promise<void>
}

export function createAuditQueue(audit: AuditLog, logger: Logger, now: () => number): AuditQueue {
  let waiting: AuditInput[] = []
  let timer: NodeJS.Timeout | undefined
  const writing = new Set<Promise<unknown>>()

  const flush = () => {
    clearTimeout(timer)
    timer = undefined
    const entries = waiting
    waiting = []
    for (const entry of entries) {
      const write = audit
        .record(entry)
        .catch((err: unknown) => logger.error({ app: entry.app, err }, 'audit record lost'))
        .finally(() => writing.delete(write))
      writing.add(write)
    }
  }

  return {
    add(entry) {
      waiting.push({ at: now(), ...entry })
      timer ??= setTimeout(flush, DELAY_MS)
    },
    async close() {
      flush()
      await Promise.all([...writing])
    },
  }
}
