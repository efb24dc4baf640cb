/**
 * The runner-neutral shape of the conformance suites: a case is a name and a plain async `run`
 * that builds a fresh store from your factory (the set-up hook), checks it on a manual clock, and
 * disposes of it with the factory's `cleanup` (the tear-down hook), whatever the outcome. Any test
 * runner, or a plain loop, can run them; `./vitest` and `./node` are the adapters.
 * @module
 */

/** A clock the suite moves by hand. Hand `now` to your store. */
export interface ManualClock {
  /** Seconds since epoch. */
  now: () => number
  /** Moves the clock forward, in seconds. */
  advance: (seconds: number) => void
}

/** What a factory returns: the store, and how to dispose of it after each case. */
export interface Subject<T> {
  store: T
  cleanup?: () => Promise<void> | void
  /**
   * Optional, read by the outbox cases: makes the store's writes fail from now on, after the next
   * `after` (default 0) succeed, as when its database becomes unreachable, its reads still
   * answering. A write is one call that commits to the database. Without it, the cases that a
   * failed revocation stores no delivery, and that the rows go in the revocation's own write, are
   * skipped.
   */
  failWrites?: (after?: number) => void
}

/** Builds a fresh, empty store for one case, on the case's clock. */
export type Factory<T> = (clock: ManualClock) => Promise<T | Subject<T>> | T | Subject<T>

/**
 * What a {@link Factory} made, as a {@link Subject}: a bare store is wrapped, a subject kept.
 *
 * @example
 * ```ts
 * const { store, cleanup } = subjectOf(await factory(createManualClock()))
 * ```
 */
export function subjectOf<T>(made: T | Subject<T>): Subject<T> {
  return made && typeof made === 'object' && 'store' in made ? (made as Subject<T>) : { store: made as T }
}

/** One conformance case. */
export interface ConformanceCase {
  /** What the case proves, e.g. `"a sid logout ends the sessions of that sid only"`. */
  readonly name: string
  /**
   * Builds a store, checks it, disposes of it. Rejects with a `ConformanceError` (`ERR_CONFORMANCE`)
   * saying what differs, or with a {@link CaseSkipped} (`ERR_CASE_SKIPPED`) when the store lacks
   * the optional method the case is about.
   */
  run(): Promise<void>
}

/** A case does not apply to this store (it lacks an optional method); the message says what follows. */
export class CaseSkipped extends Error {
  readonly code = 'ERR_CASE_SKIPPED'
  constructor(message: string) {
    super(message)
    this.name = 'CaseSkipped'
  }
}

/**
 * Whether `err` is a {@link CaseSkipped}: by its code, so that it holds across two copies of this
 * package.
 *
 * @example
 * ```ts
 * for (const c of sessionStoreCases(factory)) {
 *   await c.run().catch((err) => { if (!isCaseSkipped(err)) throw err })
 * }
 * ```
 */
export function isCaseSkipped(err: unknown): err is CaseSkipped {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'ERR_CASE_SKIPPED'
}

/** Strings that break naive storage keys: separators, unicode, URL syntax, length. */
export const ODD_STRINGS = [
  'a/b:c?d#e&f=g',
  '../../etc/passwd',
  ' spaced  out ',
  'ünïcødé-✓-👋',
  '%2F%3A%3F',
  'x'.repeat(1000),
  'urn:example:issuer|with|pipes',
] as const

/**
 * A manual clock, starting at a fixed, realistic time so runs are repeatable.
 *
 * @example
 * ```ts
 * const clock = createManualClock()
 * clock.advance(60) // clock.now() === 1_800_000_060
 * ```
 */
export function createManualClock(start = 1_800_000_000): ManualClock {
  let t = start
  return {
    now: () => t,
    advance: (seconds) => {
      t += seconds
    },
  }
}
