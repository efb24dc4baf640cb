/**
 * What the CLI writes: JSON results on stdout, one-line messages on stderr, and the two errors a
 * command throws to end with an exit code (0 ok, 1 failure, 2 usage or configuration).
 * @module
 */

/** A failure to report in one line: exit 1 (the call failed), or 2 (usage or configuration). */
export class CliError extends Error {
  override name = 'CliError'
  /** The process's exit code: 1 or 2. */
  readonly exitCode: 1 | 2
  constructor(message: string, exitCode: 1 | 2 = 1) {
    super(message)
    this.exitCode = exitCode
  }
}

/** A command line the CLI cannot run (unknown command or flag, a value of the wrong form): exit 2. */
export class UsageError extends CliError {
  override name = 'UsageError'
  constructor(message: string) {
    super(message, 2)
  }
}

/** Throws a {@link CliError}: `return fail('…')` in a command ends it with that message. */
export function fail(message: string, exitCode: 1 | 2 = 1): never {
  throw new CliError(message, exitCode)
}

/** Colours only for a person at a terminal: never into a pipe or a file, and never under NO_COLOR. */
export function colours(stream: NodeJS.WriteStream) {
  const on = stream.isTTY === true && !process.env.NO_COLOR
  const paint = (open: number, close: number) => (text: string) => (on ? `\x1b[${open}m${text}\x1b[${close}m` : text)
  return { bold: paint(1, 22), dim: paint(2, 22), red: paint(31, 39), cyan: paint(36, 39) }
}

/** Writes a result as indented JSON on stdout. */
export const print = (value: unknown) => process.stdout.write(`${JSON.stringify(value, null, 2)}\n`)

/** Writes `backchannel: message` on stderr. */
export function report(message: string) {
  process.stderr.write(`${colours(process.stderr).red('backchannel:')} ${message}\n`)
}

/** The message of an error and of its cause, e.g. `cannot open x (ECONNREFUSED)`. */
export const reason = (err: Error) => `${err.message}${err.cause ? ` (${(err.cause as Error).message})` : ''}`
