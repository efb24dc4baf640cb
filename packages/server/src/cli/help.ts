/**
 * The help of a command: its usage line as typed (`backchannel apps create …`, never the script's
 * path), its flags, its subcommands, and the exit codes.
 * @module
 */
import type { ArgsDef, CommandDef, CommandMeta, Resolvable, SubCommandsDef } from 'citty'
import { type Flag, hint } from './flags.js'
import { colours } from './output.js'

/** A command of the tree, in citty's shape (hand-written with `defineCommand`, or derived). */
// biome-ignore lint/suspicious/noExplicitAny: commands take flags of every shape
export type Command = CommandDef<any>

/** A command with its parts resolved (citty allows each to be a function or a promise). */
export interface Resolved {
  meta: CommandMeta
  flags: Record<string, Flag>
  subCommands: Record<string, Command>
  run: Command['run']
}

const resolve = async <T>(value: Resolvable<T> | undefined): Promise<T | undefined> =>
  typeof value === 'function' ? await (value as () => T | Promise<T>)() : await value

/** Resolves a command's meta, flags and subcommands. */
export async function resolveCommand(command: Command): Promise<Resolved> {
  const sub: SubCommandsDef = (await resolve(command.subCommands)) ?? {}
  const subCommands: Record<string, Command> = {}
  for (const [name, child] of Object.entries(sub)) subCommands[name] = (await resolve(child)) as Command
  return {
    meta: (await resolve(command.meta)) ?? {},
    flags: ((await resolve(command.args)) ?? {}) as ArgsDef as Record<string, Flag>,
    subCommands,
    run: command.run,
  }
}

/** The exit codes, as every help page ends. */
export const EXIT_CODES =
  'Exit codes: 0 done, 1 failed (the gateway refused or could not be reached), 2 usage or configuration.'

/** The help text of the command at `path` (e.g. `['backchannel', 'apps', 'create']`). */
export function renderHelp(path: readonly string[], command: Resolved): string {
  const c = colours(process.stdout)
  const name = path.join(' ')
  const flags = Object.entries(command.flags)
  const required = flags.filter(([, def]) => def.required).map(([flag, def]) => `--${flag} ${hint(def, flag)}`)
  const subs = Object.entries(command.subCommands).filter(([, sub]) => !(sub.meta as CommandMeta | undefined)?.hidden)
  const usage = subs.length
    ? `${name} <command>`
    : [name, ...required, flags.length > required.length ? '[flags]' : ''].filter(Boolean).join(' ')
  const lines = [`${c.bold('Usage:')} ${usage}`, '']
  if (command.meta.description) lines.push(command.meta.description, '')
  if (subs.length) {
    lines.push(c.bold('Commands:'))
    const width = Math.max(...subs.map(([sub]) => sub.length))
    for (const [sub, def] of subs) {
      lines.push(`  ${c.cyan(sub.padEnd(width))}  ${(def.meta as CommandMeta | undefined)?.description ?? ''}`)
    }
    lines.push('', `${c.dim(`${path[0]} help <command>`)} shows a command's flags.`, '')
  }
  if (flags.length) {
    lines.push(c.bold('Flags:'))
    const shown = flags.map(([flag, def]) => [`--${flag} ${short(def, flag)}`.trim(), describe(def)] as const)
    const width = Math.max(...shown.map(([left]) => left.length))
    for (const [left, right] of shown) lines.push(`  ${c.cyan(left.padEnd(width))}  ${right}`)
    lines.push('')
  }
  lines.push(EXIT_CODES)
  return `${lines.join('\n')}\n`
}

/** A long list of options is named after the flag in the left column and spelled out on the right. */
const short = (def: Flag, name: string) =>
  hint(def, name).length > 24 ? `<${def.valueHint ?? name}>` : hint(def, name)

function describe(def: Flag): string {
  const notes = [
    def.type === 'enum' && hint(def, '').length > 24 ? `one of ${def.options?.join(', ')}` : '',
    def.required ? 'required' : '',
    def.multiple ? 'repeatable, or comma-separated' : '',
    def.alias ? `also --${[def.alias].flat().join(', --')}` : '',
  ].filter(Boolean)
  return [def.description ?? '', notes.length ? `(${notes.join('; ')})` : ''].filter(Boolean).join(' ')
}
