/** The gateway's logger: JSON lines on stdout, with string levels and ISO timestamps. */
import pino, { type Logger } from 'pino'
import type { Config } from './config.js'

/** Lines wait in a buffer until it holds this many bytes… */
const BUFFER_BYTES = 4096
/** …or for at most this long. */
const FLUSH_MS = 100

/**
 * A pino logger writing to `destination` (a file descriptor or a file path; default stdout)
 * asynchronously, in batches: lines wait until {@link BUFFER_BYTES} of them are ready or
 * {@link FLUSH_MS} have passed, so that a steady trickle of requests costs one write per batch
 * instead of one per line (a write per line is a visible share of the gateway's CPU under load).
 * What is buffered is written when the process exits, even on an uncaught exception; a process
 * killed outright (SIGKILL, out of memory) loses at most the last {@link FLUSH_MS} of lines. Call
 * `logger.flush()` to write them now.
 */
export function createLogger(level: Config['logLevel'], destination?: number | string): Logger {
  return pino(
    {
      level,
      // pid: which worker wrote the line, under --workers.
      base: { service: 'backchannel', pid: process.pid },
      // "level":"info" and an ISO time: what log stacks read without a pino-specific mapping.
      formatters: { level: (label) => ({ level: label }) },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    pino.destination({ dest: destination, sync: false, minLength: BUFFER_BYTES, periodicFlush: FLUSH_MS }),
  )
}
