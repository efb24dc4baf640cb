/**
 * Flags from a procedure's input schema: every field becomes a `--kebab-case` flag of its type
 * (string, number, boolean, enum, repeatable list); the fields of a nested object (`policy`) become
 * flags of their own; anything else takes JSON. The schema is read as JSON Schema through the
 * Standard JSON Schema interface zod 4 implements, so the CLI needs no zod of its own.
 * @module
 */
import type { Flag, FlagValues } from './flags.js'
import { UsageError } from './output.js'

/** The part of JSON Schema (2020-12) the CLI reads. */
export interface JsonSchema {
  type?: string | string[]
  properties?: Record<string, JsonSchema>
  required?: string[]
  enum?: unknown[]
  const?: unknown
  items?: JsonSchema
  pattern?: string
  description?: string
  anyOf?: JsonSchema[]
  oneOf?: JsonSchema[]
  allOf?: JsonSchema[]
}

/** A field of the input and the flag that sets it. */
export interface InputField {
  /** Where the value goes: `['name']`, `['policy', 'maxTokenAge']`. */
  path: string[]
  /** The flag's name, without `--`. */
  flag: string
  schema: JsonSchema
  required: boolean
}

interface StandardJsonSchema {
  '~standard'?: { jsonSchema?: { input(options: { target: string }): JsonSchema } }
}

/**
 * The JSON Schema of a procedure's input, its parsers merged (a procedure built on another adds
 * fields with a second `.input()`); `undefined` when a parser cannot describe itself.
 */
export function inputSchema(parsers: readonly unknown[]): JsonSchema | undefined {
  const parts: JsonSchema[] = []
  for (const parser of parsers) {
    const schema = (parser as StandardJsonSchema)['~standard']?.jsonSchema?.input({ target: 'draft-2020-12' })
    if (!schema) return undefined
    parts.push(...branches(schema))
  }
  const merged: JsonSchema = { type: 'object', properties: {}, required: [] }
  for (const part of parts) {
    Object.assign(merged.properties as object, part.properties)
    merged.required?.push(...(part.required ?? []))
  }
  return merged
}

/** The objects a schema is made of; for a union each branch counts, and none of its fields is required. */
function branches(schema: JsonSchema): JsonSchema[] {
  const union = schema.anyOf ?? schema.oneOf
  if (union) return union.flatMap(branches).map((branch) => ({ ...branch, required: [] }))
  if (schema.allOf) return schema.allOf.flatMap(branches)
  return [schema]
}

const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)
const isObject = (s: JsonSchema) => s.type === 'object' && s.properties !== undefined && !s.anyOf && !s.oneOf

/**
 * The input's fields with their flags. `names` renames a field's flag by its dotted path (`policy.issuer`)
 * or name; a field of a nested object is `--field`, or `--parent-field` where a top-level flag has that
 * name; a field named like one of `reserved` (the connection flags) is `--input-field`.
 */
export function inputFields(
  schema: JsonSchema,
  names: Readonly<Record<string, string>>,
  reserved: ReadonlySet<string>,
): InputField[] {
  const top = Object.entries(schema.properties ?? {})
  const taken = new Set(top.filter(([, s]) => !isObject(s)).map(([key]) => kebab(key)))
  const flagOf = (path: string[], plain: string) => {
    const named = names[path.join('.')] ?? names[path.at(-1) as string] ?? plain
    return reserved.has(named) ? `input-${named}` : named
  }
  const fields: InputField[] = []
  for (const [key, sub] of top) {
    const required = schema.required?.includes(key) === true
    if (!isObject(sub)) {
      fields.push({ path: [key], flag: flagOf([key], kebab(key)), schema: sub, required })
      continue
    }
    for (const [inner, leaf] of Object.entries(sub.properties ?? {})) {
      const plain = taken.has(kebab(inner)) ? `${kebab(key)}-${kebab(inner)}` : kebab(inner)
      const innerRequired = required && sub.required?.includes(inner) === true
      fields.push({ path: [key, inner], flag: flagOf([key, inner], plain), schema: leaf, required: innerRequired })
    }
  }
  return fields
}

const typeOf = (s: JsonSchema) => [s.type ?? []].flat().find((t) => t !== 'null')

function options(s: JsonSchema): string[] | undefined {
  const values = s.enum ?? (s.const === undefined ? undefined : [s.const])
  return values?.every((v) => typeof v === 'string') ? (values as string[]) : undefined
}

function number(integer: boolean) {
  return (text: string, flag: string) => {
    const n = Number(text)
    if (text.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n))) {
      const form = integer ? 'a whole number, e.g. 50' : 'a number, e.g. 1700000000'
      throw new UsageError(`--${flag}: expected ${form}, not ${JSON.stringify(text)}`)
    }
    return n
  }
}

function matching(pattern: string, description: string | undefined) {
  const re = new RegExp(pattern, 'u')
  return (text: string, flag: string) => {
    if (!re.test(text)) {
      throw new UsageError(`--${flag}: ${JSON.stringify(text)} is not of the form expected: ${description ?? pattern}`)
    }
    return text
  }
}

function json(text: string, flag: string) {
  try {
    return JSON.parse(text) as unknown
  } catch {
    throw new UsageError(`--${flag}: expected JSON, e.g. --${flag} '[{"key":"value"}]'`)
  }
}

/** The flag of a field: its type, its enum, its form; `help` describes it when the schema does not. */
export function flagFor(field: InputField, help: string | undefined): Flag {
  const s = field.schema
  const base = { description: s.description ?? help, required: field.required }
  const choices = options(s)
  if (choices) return { ...base, type: 'enum', options: choices }
  const type = typeOf(s)
  if (type === 'boolean') return { ...base, type: 'boolean' }
  if (type === 'integer' || type === 'number') {
    return {
      ...base,
      type: 'string',
      valueHint: type === 'integer' ? 'integer' : 'number',
      parse: number(type === 'integer'),
    }
  }
  if (type === 'string') {
    return {
      ...base,
      type: 'string',
      valueHint: kebab(field.path.at(-1) as string),
      ...(s.pattern ? { parse: matching(s.pattern, s.description ?? help) } : {}),
    }
  }
  const item = s.items
  if (type === 'array' && item && (options(item) || ['string', 'integer', 'number'].includes(typeOf(item) ?? ''))) {
    return { ...flagFor({ ...field, schema: item }, undefined), ...base, multiple: true }
  }
  return { ...base, type: 'string', valueHint: 'JSON', parse: json }
}

/** The input from the flags' values: each value at its field's path (a field at `[]` is the whole input). */
export function assembleInput(fields: readonly InputField[], values: FlagValues): unknown {
  const input: Record<string, unknown> = {}
  for (const { path, flag } of fields) {
    if (values[flag] === undefined) continue
    if (path.length === 0) return values[flag]
    let target = input
    for (const key of path.slice(0, -1)) {
      target[key] ??= {}
      target = target[key] as Record<string, unknown>
    }
    target[path.at(-1) as string] = values[flag]
  }
  return input
}
