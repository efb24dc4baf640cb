/**
 * From HTML form fields to the API's inputs. Fields are named as the API's inputs are
 * (`policy.maxTokenAge`), so the API's messages land on them; an empty field means "not given".
 * Values are passed on as typed, and the API's own schema judges them (a word where a number
 * goes is refused by the API, with its message).
 * @module
 */
import { readBody } from '@backchannel/core'

/** A form's fields, each its last value. */
export type FormValues = Record<string, string>

/**
 * The fields of a urlencoded or multipart body, strings only; `undefined` when the body is larger
 * than `maxBytes`, however it is framed (a chunked body has no Content-Length to check first).
 */
export async function readForm(request: Request, maxBytes: number): Promise<FormValues | undefined> {
  const body = await readBody(request, maxBytes)
  if (body === undefined) return undefined
  const parsed = new Response(body, { headers: { 'content-type': request.headers.get('content-type') ?? '' } })
  const values: FormValues = {}
  for (const [name, value] of await parsed.formData()) if (typeof value === 'string') values[name] = value
  return values
}

/** The query string's parameters. */
export function queryValues(url: URL): FormValues {
  return Object.fromEntries(url.searchParams)
}

/** A field as given, `undefined` when empty. */
export const optional = (value: string | undefined) =>
  value === undefined || value.trim() === '' ? undefined : value.trim()

/** A number field: the number when it reads as one, else the text itself for the API to refuse. */
export function numeric(value: string | undefined): number | string | undefined {
  const given = optional(value)
  if (given === undefined) return undefined
  return /^-?\d+(\.\d+)?$/.test(given) ? Number(given) : given
}

/** `true` / `false` from a select, `undefined` when left unchanged. */
export function boolean(value: string | undefined): boolean | undefined {
  return value === 'true' ? true : value === 'false' ? false : undefined
}

/** A `datetime-local` field (read as UTC) in seconds since epoch; `NaN` for the API to refuse. */
export function utcSeconds(value: string | undefined): number | undefined {
  const given = optional(value)
  return given === undefined ? undefined : Date.parse(`${given}Z`) / 1000
}

/** The relays textarea: one `mode URL [clientId]` a line. */
export function relayLines(text: string): { mode: string; url: string; clientId?: string }[] {
  return text
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((words) => words[0] !== '')
    .map(([mode = '', url = '', clientId]) => ({ mode, url, ...(clientId === undefined ? {} : { clientId }) }))
}

/** An object without its `undefined` members (the API's schemas are strict about what is sent). */
export function defined<T extends Record<string, unknown>>(object: T): Partial<T> {
  return Object.fromEntries(Object.entries(object).filter(([, v]) => v !== undefined)) as Partial<T>
}

/** A word for a POSIX shell: as is when it is safe, else single-quoted. */
export function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`
}
