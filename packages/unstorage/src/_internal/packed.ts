/**
 * How the local state (local-state.ts, map-sets.ts) keeps a value with its expiry: as one string,
 * `<until> <value>`, rather than an object holding a string and a number. Every major garbage
 * collection marks the whole state, object by object: a string is one object, where an object
 * holding a string and a fractional number (which V8 boxes) is three. What this saves, measured
 * by bench/heap.js: BENCHMARKS.md, seventh round.
 */

/** Where {@link flatten} puts each conversion, so that no compiler drops it as unused. */
let _converted = 0

/**
 * `s`, flattened into one piece of memory. V8 keeps the result of a concatenation (`a + b`, a
 * template literal, the parts of a long `JSON.stringify`) as a tree of its pieces, each one more
 * object to mark. Converting the string to a number flattens it in place, and the collector then
 * drops the tree.
 */
export function flatten(s: string): string {
  _converted = +s
  return s
}

/** `value` with its expiry (seconds since epoch; `Infinity`: none), as one flat string. */
export const pack = (until: number, value: string): string => flatten(`${until} ${value}`)

/** The expiry of a packed string (`parseFloat` stops at the space). */
export const packedUntil = (packed: string): number => Number.parseFloat(packed)

/** The value of a packed string. */
export const packedValue = (packed: string): string => packed.slice(packed.indexOf(' ') + 1)
