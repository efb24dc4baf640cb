/**
 * The reference relay outbox passes the outbox cases, and the cases fail outboxes that break the
 * contract in the ways a review found them passing: rows in a second write, a check-then-set
 * lease, a late settle over another holder's lease, unsent tries dropped or kept by a retry.
 */
import { expect, it } from 'vitest'
import { StoreUnavailable } from '../src/errors.js'
import type { RelayOutboxRevoker } from '../src/relay-outbox.js'
import type { ReplayStore } from '../src/replay.js'
import type { SessionStore } from '../src/session.js'
import {
  type ConformanceCase,
  createMemoryRelayStore,
  describeRelayOutbox,
  isCaseSkipped,
  type ManualClock,
  relayOutboxCases,
  type Subject,
} from '../src/testing/vitest.js'

type Reference = SessionStore & ReplayStore & RelayOutboxRevoker

/**
 * The reference store with writes that can be made to fail: `revoke` and `claimAndRevoke` are
 * one write each. `change` rebuilds it around the counted `write` (a broken variant).
 */
function failing(
  clock: ManualClock,
  change: (store: Reference, write: <R>(run: () => Promise<R>) => Promise<R>) => Partial<Reference> = () => ({}),
): Subject<Reference> {
  const inner = createMemoryRelayStore({ now: clock.now })
  const { claimAndRevoke } = inner
  if (!claimAndRevoke) throw new TypeError('the reference store has claimAndRevoke()')
  let left = Number.POSITIVE_INFINITY
  const write = <R>(run: () => Promise<R>) =>
    left-- > 0 ? run() : Promise.reject(new StoreUnavailable('the test made writes fail'))
  const store: Reference = {
    ...inner,
    revoke: (target) => write(() => inner.revoke(target)),
    claimAndRevoke: (key, expiresAt, target) => write(() => claimAndRevoke(key, expiresAt, target)),
  }
  return {
    store: { ...store, ...change(inner, write) },
    failWrites: (after = 0) => {
      left = after
    },
  }
}

/** Runs cases as a runner without vitest would: `passed`, `skipped`, or the error's message. */
async function runAll(cases: ConformanceCase[]) {
  const outcomes: Record<string, string> = {}
  for (const c of cases) {
    outcomes[c.name] = await c.run().then(
      () => 'passed',
      (err: unknown) => (isCaseSkipped(err) ? 'skipped' : String((err as Error).message)),
    )
  }
  return outcomes
}

const failed = (outcomes: Record<string, string>) => Object.entries(outcomes).filter(([, o]) => o !== 'passed')

describeRelayOutbox('memory reference', (clock) => failing(clock))

it('the reference passes every outbox case, none skipped', async () => {
  const outcomes = await runAll(relayOutboxCases((clock) => failing(clock)))
  expect(Object.keys(outcomes).length).toBeGreaterThanOrEqual(11)
  expect(failed(outcomes)).toEqual([])
})

it('fails a revoker that writes the revocation, then its deliveries in a second write', async () => {
  const outcomes = await runAll(
    relayOutboxCases((clock) =>
      failing(clock, (inner, write) => ({
        async revoke(target) {
          const result = await write(() => inner.revoke({ ...target, relay: undefined }))
          await write(() => inner.revoke(target))
          return result
        },
      })),
    ),
  )
  expect(failed(outcomes)).toEqual([
    [
      'stores no revocation without its deliveries, even when the write after the first fails',
      'deliveries stored with the recorded logout: expected 2, got 0',
    ],
  ])
})

it('fails a lease taken by check-then-set', async () => {
  const outcomes = await runAll(
    relayOutboxCases((clock) =>
      failing(clock, (inner) => ({
        outbox: {
          ...inner.outbox,
          async take(id, leaseSeconds) {
            // Reads whether the row is free, then (a round trip later) takes it: every reader wins.
            const free = (await inner.outbox.get(id))?.state === 'pending'
            await new Promise((resolve) => setTimeout(resolve, 1))
            return free ? ((await inner.outbox.take(id, leaseSeconds)) ?? inner.outbox.get(id)) : undefined
          },
        },
      })),
    ),
  )
  expect(outcomes['gives a delivery to exactly one of 20 concurrent take() calls']).toMatch(
    /^the rows the 20 take\(\) calls returned: expected \[".+"\], got \[".+",".+"/,
  )
})

it('fails a settle that writes whatever lease the delivery carries', async () => {
  const outcomes = await runAll(
    relayOutboxCases((clock) =>
      failing(clock, (inner) => {
        const tokens = new Map<string, string | undefined>()
        return {
          outbox: {
            ...inner.outbox,
            async take(id, leaseSeconds) {
              const taken = await inner.outbox.take(id, leaseSeconds)
              if (taken) tokens.set(id, taken.lease)
              return taken
            },
            // Settles under the row's latest lease, as a lease without an owner would.
            settle: (d) => inner.outbox.settle({ ...d, lease: tokens.get(d.id) }),
          },
        }
      }),
    ),
  )
  expect(outcomes['ignores a late settle() by a former lease holder: the new holder’s lease and the row stay']).toMatch(
    /^get\(\) after A’s late settle\(\): expected .*"state":"pending".*, got .*"state":"delivered"/,
  )
})

it('fails an outbox that drops unsent tries, and one whose retry keeps them', async () => {
  const dropped = await runAll(
    relayOutboxCases((clock) =>
      failing(clock, (inner) => ({
        outbox: { ...inner.outbox, settle: ({ unsentTries: _, ...d }) => inner.outbox.settle(d) },
      })),
    ),
  )
  expect(dropped['does not hand out a delivery before its next attempt is due, and keeps its unsent tries']).toMatch(
    /^the row taken once due: expected to hold .*"unsentTries":2/,
  )
  const kept = await runAll(
    relayOutboxCases((clock) =>
      failing(clock, (inner) => ({
        outbox: {
          ...inner.outbox,
          async retry(id) {
            const unsentTries = (await inner.outbox.get(id))?.unsentTries
            if (!(await inner.outbox.retry(id))) return false
            // Puts the old count back, as a retry that spreads the dead row would.
            const taken = await inner.outbox.take(id, 1)
            if (taken) await inner.outbox.settle({ ...taken, unsentTries })
            return true
          },
        },
      })),
    ),
  )
  expect(kept['lists deliveries newest first by app and state, retries a dead one afresh and discards one']).toBe(
    'unsentTries of the retried row: expected "<undefined>", got 1',
  )
})
