/** The payload of a verified JWS read as a JSON object: logout tokens and Security Event Tokens alike. */

// One decoder for every token: without `stream`, decode() keeps no state between calls.
const UTF8 = new TextDecoder('utf-8', { fatal: true })

/**
 * `payload` as a JSON object; otherwise a `Malformed` error saying that `what` (e.g. "the SET") is
 * not JSON, or not an object.
 */
export function jsonPayload(
  payload: Uint8Array,
  what: string,
  Malformed: new (message: string, options?: ErrorOptions) => Error,
): Record<string, unknown> {
  let value: unknown
  try {
    value = JSON.parse(UTF8.decode(payload))
  } catch (cause) {
    throw new Malformed(`${what} payload is not JSON`, { cause })
  }
  if (!isObject(value)) throw new Malformed(`${what} payload is not a JSON object`)
  return value
}

/**
 * Whether `value` is a JSON object (not `null`, not an array): every claim and event member that
 * must be one is checked with this.
 *
 * @example
 * ```ts
 * isObject({ format: 'opaque' }) // true; isObject([]) and isObject(null) are false
 * ```
 */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
