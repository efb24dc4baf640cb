/**
 * Runs a command tree in citty's shape with this CLI's rules: commands and flags are read strictly
 * (a slip is refused with the closest known name), `help` and `--help` print the page of the command
 * as typed, `--version` the package's version, and every failure is one line on stderr with its exit
 * code: never a stack trace.
 * @module
 */
import type { ParsedArgs } from 'citty'
import { closest } from '../closest.js'
import { parseFlags } from './flags.js'
import { type Command, type Resolved, renderHelp, resolveCommand } from './help.js'
import { CliError, report, UsageError } from './output.js'

/** Options of {@link runCommandTree}. */
export interface RunOptions {
  /** The program's name in usage lines: `backchannel`. */
  name: string
  /** What `--version` prints. */
  version: string
}

/**
 * Reads `argv` (without `node` and the script) against the tree under `root` and runs the command
 * it names. Sets `process.exitCode`; a failure ends the process with 1 or 2.
 *
 * @example
 * ```ts
 * await runCommandTree(defineCommand({ subCommands: { hello: { run: () => console.log('hi') } } }), ['hello'], {
 *   name: 'demo',
 *   version: '1.0.0',
 * })
 * ```
 */
export async function runCommandTree(root: Command, argv: readonly string[], options: RunOptions): Promise<void> {
  installLastResort()
  let path = [options.name]
  try {
    if (argv[0] === '--version' || argv[0] === '-v') {
      process.stdout.write(`${options.version}\n`)
      return
    }
    const asksHelp = argv[0] === 'help'
    const rest = asksHelp ? argv.slice(1) : argv
    let command = await resolveCommand(root)
    let i = 0
    for (; i < rest.length && Object.keys(command.subCommands).length > 0; i++) {
      const word = rest[i] as string
      if (word.startsWith('-')) break
      command = await subCommand(command, word, path)
      path = [...path, word]
    }
    if (asksHelp || rest.includes('--help') || rest.includes('-h')) {
      process.stdout.write(renderHelp(path, command))
      return
    }
    if (!command.run) {
      process.stderr.write(renderHelp(path, command))
      throw new UsageError(`${path.join(' ')}: give a command`)
    }
    const args = parseFlags(command.flags, rest.slice(i))
    await command.run({ args: { _: [], ...args } as unknown as ParsedArgs, rawArgs: rest.slice(i), cmd: root })
  } catch (err) {
    if (!(err instanceof CliError)) return unexpected(err)
    const more = err instanceof UsageError ? ` (${path.join(' ')} --help shows how)` : ''
    report(`${err.message}${more}`)
    process.exit(err.exitCode)
  }
}

async function subCommand(command: Resolved, word: string, path: string[]): Promise<Resolved> {
  const found = command.subCommands[word]
  if (found) return resolveCommand(found)
  const near = closest(word, Object.keys(command.subCommands))
  throw new UsageError(
    `unknown command ${JSON.stringify(word)}${near ? `; did you mean ${[...path, near].join(' ')}?` : ''}`,
  )
}

/**
 * Whatever escapes a command (a bug, a library's surprise) is still one line and exit 1, not a
 * stack trace; `BACKCHANNEL_DEBUG=1` adds the stack for a bug report.
 */
function unexpected(err: unknown): never {
  report(`unexpected error: ${err instanceof Error ? err.message : String(err)}`)
  if (process.env.BACKCHANNEL_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`)
  process.exit(1)
}

let installed = false
function installLastResort() {
  if (installed) return
  installed = true
  process.on('uncaughtException', unexpected)
  process.on('unhandledRejection', unexpected)
}
