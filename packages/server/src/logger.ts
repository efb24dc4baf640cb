/** The gateway's logger: JSON lines on stdout. */
import pino, { type Logger } from 'pino'
import type { Config } from './config.js'

/**
 * A pino logger writing to stdout through a buffer, asynchronously: a synchronous write per
 * request would cost a syscall on the hot path. Call `logger.flush()` before exiting.
 */
export function createLogger(level: Config['logLevel']): Logger {
  return pino({ level, base: { service: 'backchannel' } }, pino.destination({ sync: false, minLength: 4096 }))
}
