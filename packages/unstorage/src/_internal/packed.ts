/**
 * How the local state (local-state.ts, map-sets.ts) keeps a value with its expiry: as one string,
 * `<until> <value>`, rather than an object holding a string and a number, so that the garbage
 * collector has one object to mark per entry instead of several.
 */

/** Where {@link flatten} puts each conversion, so that no compiler drops it as unused. */
let _converted = 0

/**
 * `s`, flattened into one piece of memory: a concatenation is kept as a tree of its pieces (more
 * objects to mark) until something reads it whole, as a conversion to a number does.
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
