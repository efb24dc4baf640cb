/**
 * Reading a command's flags strictly: an unknown flag is refused with the closest known one, an
 * enum value is checked against its options, and a value of the wrong form is refused with the
 * form expected, all before the command runs (exit 2).
 * @module
 */
import type { BooleanArgDef, EnumArgDef, StringArgDef } from 'citty'
import { closest } from '../closest.js'
import { UsageError } from './output.js'

/** A flag: citty's definition, plus what flags derived from the API's schemas need. */
export type Flag = (BooleanArgDef | StringArgDef | EnumArgDef) & {
  /** May be given more than once, or as a comma-separated list; the value is an array. */
  multiple?: boolean
  /** Turns the text into the value; throws a {@link UsageError} naming the form expected. */
  parse?: (text: string, flag: string) => unknown
  /**
   * A secret: taken from this environment variable when the flag is not given, and `-` as its
   * value reads it from standard input ({@link readSecrets}), so that it need not show in `ps`.
   */
  env?: string
}

/** A command's flags by name, without the leading `--`. */
export type Flags = Record<string, Flag>

/** The values of the flags given, by flag name (strings, booleans, or what `parse` returns). */
export type FlagValues = Record<string, unknown>

/** `--name`, and each long alias, to the flag's name. */
function names(flags: Flags): Map<string, string> {
  const byName = new Map<string, string>()
  for (const [name, def] of Object.entries(flags)) {
    byName.set(name, name)
    for (const alias of [def.alias ?? []].flat()) byName.set(alias, name)
  }
  return byName
}

function value(flags: Flags, name: string, text: string): unknown {
  const def = flags[name] as Flag
  if (def.type === 'enum' && def.options && !def.options.includes(text)) {
    throw new UsageError(`--${name}: ${JSON.stringify(text)} is not one of ${def.options.join(', ')}`)
  }
  return def.parse ? def.parse(text, name) : text
}

/**
 * Reads `argv` (what follows the command's name) against `flags`: `--name value`, `--name=value`,
 * `--flag` / `--no-flag` for booleans, repeated or comma-separated values for `multiple` flags.
 *
 * @example
 * ```ts
 * parseFlags({ name: { type: 'string', required: true } }, ['--name', 'billing']) // { name: 'billing' }
 * ```
 */
export function parseFlags(flags: Flags, argv: readonly string[]): FlagValues {
  const byName = names(flags)
  const values: FlagValues = {}
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i] as string
    if (!token.startsWith('--') || token === '--') {
      throw new UsageError(`unexpected ${JSON.stringify(token)}: give values as --flag value`)
    }
    const eq = token.indexOf('=')
    const typed = token.slice(2, eq === -1 ? undefined : eq)
    const negated = typed.startsWith('no-') && flags[byName.get(typed.slice(3)) ?? '']?.type === 'boolean'
    const name = byName.get(negated ? typed.slice(3) : typed)
    if (name === undefined) {
      const near = closest(typed, byName.keys())
      throw new UsageError(`unknown flag --${typed}${near ? `; did you mean --${near}?` : ''}`)
    }
    const def = flags[name] as Flag
    let text = eq === -1 ? undefined : token.slice(eq + 1)
    if (def.type === 'boolean') {
      if (text !== undefined && text !== 'true' && text !== 'false') {
        throw new UsageError(`--${name} is on or off: --${name}, --no-${name} or --${name}=false`)
      }
      values[name] = negated ? false : text !== 'false'
      continue
    }
    if (text === undefined) {
      text = argv[i + 1]
      // A value may start with "-" (a negative number), but not be the next known flag.
      if (text === undefined || (text.startsWith('--') && byName.has(text.slice(2).split('=')[0] as string))) {
        throw new UsageError(`--${name} needs a value: --${name} ${hint(def, name)}`)
      }
      i++
    }
    if (def.multiple) {
      const items = text.split(',').map((item) => value(flags, name, item.trim()))
      values[name] = [...((values[name] as unknown[] | undefined) ?? []), ...items]
    } else {
      values[name] = value(flags, name, text)
    }
  }
  for (const [name, def] of Object.entries(flags)) {
    const fromEnv = def.env === undefined ? undefined : process.env[def.env]
    if (values[name] === undefined && fromEnv) values[name] = value(flags, name, fromEnv)
    if (def.required && values[name] === undefined) {
      throw new UsageError(`--${name} is required: --${name} ${hint(def, name)}`)
    }
  }
  return values
}

/**
 * Replaces each secret flag's `-` (see {@link Flag.env}) with the text read from `stdin`, its
 * surrounding whitespace trimmed. At most one flag can read standard input.
 *
 * @example
 * ```ts
 * // printf %s "$TOKEN" | backchannel streams connect --name okta --access-token -
 * await readSecrets(flags, values, process.stdin)
 * ```
 */
export async function readSecrets(flags: Flags, values: FlagValues, stdin: AsyncIterable<Uint8Array | string>) {
  const reading = Object.keys(flags).filter((name) => flags[name]?.env !== undefined && values[name] === '-')
  if (reading.length > 1)
    throw new UsageError(`only one flag can read standard input: ${reading.map((n) => `--${n}`).join(', ')}`)
  const [name] = reading
  if (name === undefined) return
  const chunks: Buffer[] = []
  for await (const chunk of stdin) chunks.push(Buffer.from(chunk))
  const text = Buffer.concat(chunks).toString('utf8').trim()
  if (!text) throw new UsageError(`--${name} -: standard input was empty`)
  values[name] = value(flags, name, text)
}

/** How a flag's value is shown in help and messages: `<URL>`, `<RS256|ES256>`, `<name>`. */
export function hint(def: Flag, name: string): string {
  if (def.type === 'boolean') return ''
  if (def.type === 'enum' && def.options?.length) return `<${def.options.join('|')}>`
  return `<${def.valueHint ?? name}>`
}
