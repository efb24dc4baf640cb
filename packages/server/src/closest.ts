/**
 * The known name nearest to one typed, for "did you mean" in the CLI's flags and commands and in
 * the config file's keys: one notion of a slip of the keyboard everywhere.
 * @module
 */

/**
 * The nearest of `known` to `typed` (case aside), when it is near enough to be a slip: an edit
 * distance of at most a third of its length, and at least 2.
 *
 * @example
 * ```ts
 * closest('isuer', ['issuer', 'name']) // 'issuer'
 * closest('zzz', ['issuer']) // undefined
 * ```
 */
export function closest(typed: string, known: Iterable<string>): string | undefined {
  let best: string | undefined
  let bestDistance = Math.max(2, Math.floor(typed.length / 3)) + 1
  for (const candidate of known) {
    const d = distance(typed.toLowerCase(), candidate.toLowerCase())
    if (d < bestDistance) [best, bestDistance] = [candidate, d]
  }
  return best
}

/** Levenshtein distance: insertions, deletions and substitutions. */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const next = [i]
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      next.push(Math.min((row[j] ?? 0) + 1, (next[j - 1] ?? 0) + 1, (row[j - 1] ?? 0) + cost))
    }
    row = next
  }
  return row[b.length] ?? 0
}
