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
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Malformed(`${what} payload is not a JSON object`)
  }
  return value as Record<string, unknown>
}
