/** The gateway's logger: JSON lines on stdout. */
import pino, { type Logger } from 'pino'
import type { Config } from './config.js'

/**
 * A pino logger writing to `destination` (a file descriptor or a file path; default stdout)
 * asynchronously: lines that arrive while a write is in flight go out together in the next one
 * (under load, far fewer syscalls than a write per request), and no line waits for a buffer to
 * fill. Call `logger.flush()` before exiting.
 */
export function createLogger(level: Config['logLevel'], destination?: number | string): Logger {
  return pino({ level, base: { service: 'backchannel' } }, pino.destination({ dest: destination, sync: false }))
}
