/**
 * How a case is built: a fresh subject per run, on a fresh manual clock, disposed of whatever its
 * check does.
 * @module
 */
import {
  CaseSkipped,
  type ConformanceCase,
  createManualClock,
  type Factory,
  type ManualClock,
  type Subject,
  subjectOf,
} from '../cases.js'

/** What a case's check gets: the store, its clock, and a way to skip. */
export interface CaseContext<T> {
  store: T
  clock: ManualClock
  subject: Subject<T>
  /** Ends the case as skipped, saying why. */
  skip: (why: string) => never
}

/** A case over `factory`: a fresh subject per run, disposed of whatever `check` does. */
export function defineCase<T>(
  factory: Factory<T>,
  name: string,
  check: (ctx: CaseContext<T>) => Promise<void>,
): ConformanceCase {
  return {
    name,
    async run() {
      const clock = createManualClock()
      const subject = subjectOf(await factory(clock))
      const skip = (why: string): never => {
        throw new CaseSkipped(why)
      }
      try {
        await check({ store: subject.store, clock, subject, skip })
      } finally {
        await subject.cleanup?.()
      }
    },
  }
}
