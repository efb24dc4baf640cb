/**
 * The few checks the conformance cases make, with no test runner and no Node built-in: the cases
 * run where the store runs (a Worker, Deno, Bun, a browser-like bundle), and `node:assert` is not
 * there everywhere. A failed check throws a {@link ConformanceError} carrying `actual` and
 * `expected`, which vitest shows as a diff and `node:test` prints beside the message.
 * @module
 */

/** A store did not do what a conformance case checks. `code` is `ERR_CONFORMANCE`. */
export class ConformanceError extends Error {
  readonly code = 'ERR_CONFORMANCE'
  constructor(
    message: string,
    readonly actual: unknown,
    readonly expected: unknown,
  ) {
    super(message)
    this.name = 'ConformanceError'
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null
const definedKeys = (o: Record<string, unknown>) => Object.keys(o).filter((k) => o[k] !== undefined)

/** Deep equality of JSON-like values; a property set to `undefined` counts as absent (as vitest's `toEqual`). */
function same(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true
  if (!isObject(a) || !isObject(b) || Array.isArray(a) !== Array.isArray(b)) return false
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => same(v, b[i]))
  const keys = definedKeys(a)
  return keys.length === definedKeys(b).length && keys.every((k) => same(a[k], b[k]))
}

/** Whether `actual` holds `expected`: every property it names, recursively; arrays element by element, same length. */
function holds(actual: unknown, expected: unknown): boolean {
  if (Array.isArray(expected)) {
    return Array.isArray(actual) && actual.length === expected.length && expected.every((v, i) => holds(actual[i], v))
  }
  if (isObject(expected) && !Array.isArray(actual)) {
    return isObject(actual) && Object.keys(expected).every((k) => holds(actual[k], expected[k]))
  }
  return Object.is(actual, expected)
}

const show = (v: unknown) => {
  const text = JSON.stringify(v, (_k, x) => (x === undefined ? '<undefined>' : x)) ?? String(v)
  return text.length > 300 ? `${text.slice(0, 300)}…` : text
}

/** Throws unless `actual` deeply equals `expected`. `what` names the value checked. */
export function equal(actual: unknown, expected: unknown, what = 'value'): void {
  if (!same(actual, expected)) {
    throw new ConformanceError(`${what}: expected ${show(expected)}, got ${show(actual)}`, actual, expected)
  }
}

/** Throws unless `actual` holds every property of `expected` (as vitest's `toMatchObject`). */
export function match(actual: unknown, expected: unknown, what = 'value'): void {
  if (!holds(actual, expected)) {
    throw new ConformanceError(`${what}: expected to hold ${show(expected)}, got ${show(actual)}`, actual, expected)
  }
}

/** `value`, or a throw when it is `undefined`; `what` names what should be there. */
export function present<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new ConformanceError(`${what}: expected a value, got none`, value, what)
  return value
}

/** Throws unless `condition` holds; `what` says what should have been true. */
export function ok(condition: boolean, what: string): void {
  if (!condition) throw new ConformanceError(what, condition, true)
}

/** Throws unless `promise` rejects with an error holding `expected` (e.g. `{ code: 'ERR_STORE_UNAVAILABLE' }`). */
export async function rejects(
  promise: Promise<unknown>,
  expected: Record<string, unknown>,
  what: string,
): Promise<void> {
  let outcome: { error: unknown } | undefined
  try {
    await promise
  } catch (error) {
    outcome = { error }
  }
  if (!outcome) throw new ConformanceError(`${what}: expected a rejection, got none`, undefined, expected)
  if (!holds(outcome.error, expected)) {
    const got = `${String(outcome.error)} ${show(outcome.error)}`
    throw new ConformanceError(
      `${what}: expected a rejection holding ${show(expected)}, got ${got}`,
      outcome.error,
      expected,
    )
  }
}
