/**
 * The audit records of logouts. The gateway answers a logout before recording it and does not
 * wait for the write (the store batches records); a record the store could not write is logged.
 */
import type { AuditInput, AuditLog } from '@backchannel/unstorage'
import type { Logger } from 'pino'

export interface AuditRecorder {
  /** Records `entry`, stamped with the time of this call, without waiting for the write. */
  record(entry: AuditInput): void
  /** Resolves once every record asked for is written (or logged as lost). */
  close(): Promise<void>
}

export function createAuditRecorder(audit: AuditLog, logger: Logger, now: () => number): AuditRecorder {
  const writing = new Set<Promise<unknown>>()
  return {
    record(entry) {
      const write: Promise<unknown> = audit
        .record({ at: now(), ...entry })
        .catch((err: unknown) => logger.error({ app: entry.app, err }, 'audit record lost'))
        .then(() => writing.delete(write))
      writing.add(write)
    },
    async close() {
      await Promise.all([...writing])
    },
  }
}
