/**
 * The conformance suite every {@link SessionStore} and {@link ReplayStore} runs: the semantics of
 * "Sessions and what a logout ends" as vitest tests. Call it from your own test file with a
 * factory; it takes a manual clock, so nothing sleeps. Build the session store with its default
 * session TTL and retention: the suite proves them ({@link DEFAULT_SESSION_TTL},
 * {@link DEFAULT_RETENTION}).
 * @module
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { ReplayStore } from '../replay.js'
import {
  DEFAULT_RETENTION,
  DEFAULT_SESSION_TTL,
  type RevocationTarget,
  type SessionInput,
  type SessionStore,
} from '../session.js'

/** A clock the suite moves by hand. Hand `now` to your store. */
export interface ManualClock {
  /** Seconds since epoch. */
  now: () => number
  /** Moves the clock forward. */
  advance: (seconds: number) => void
}

/** What a factory returns: the store, and how to dispose of it after each test. */
export interface Subject<T> {
  store: T
  cleanup?: () => Promise<void> | void
}

/** Builds a fresh, empty store for one test, on the suite's clock. */
export type Factory<T> = (clock: ManualClock) => Promise<T | Subject<T>> | T | Subject<T>

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

/** Starts at a fixed, realistic time so runs are repeatable. */
export function createManualClock(start = 1_800_000_000): ManualClock {
  let t = start
  return {
    now: () => t,
    advance: (seconds) => {
      t += seconds
    },
  }
}

function useSubject<T>(factory: Factory<T>) {
  const ctx = { clock: createManualClock(), store: undefined as unknown as T }
  let cleanup: (() => Promise<void> | void) | undefined
  beforeEach(async () => {
    ctx.clock = createManualClock()
    const made = await factory(ctx.clock)
    const subject = made && typeof made === 'object' && 'store' in made ? (made as Subject<T>) : { store: made as T }
    ctx.store = subject.store
    cleanup = subject.cleanup
  })
  afterEach(async () => {
    await cleanup?.()
  })
  return ctx
}

const ISS = 'https://id.example.com/realms/main'
const OTHER_ISS = 'https://other.example.com'

/**
 * Runs the session conformance suite against a store.
 *
 * @example
 * ```ts
 * import { describeSessionStore } from '@backchannel/core/testing'
 * describeSessionStore('my sql store', async (clock) => {
 *   const store = await createSqlStore({ now: clock.now })
 *   return { store, cleanup: () => store.close() }
 * })
 * ```
 */
export function describeSessionStore(name: string, factory: Factory<SessionStore>): void {
  describe(`SessionStore conformance: ${name}`, () => {
    const ctx = useSubject(factory)
    const register = (sessionId: string, fields: Partial<SessionInput> = {}) =>
      ctx.store.register({ app: 'app', iss: ISS, sessionId, sub: 'alice', ...fields })
    const target = (fields: Partial<RevocationTarget>): RevocationTarget => ({
      app: 'app',
      iss: ISS,
      scope: 'session',
      issuedAt: ctx.clock.now(),
      ...fields,
    })
    const revoke = (fields: Partial<RevocationTarget>) => ctx.store.revoke(target(fields))
    const state = async (sessionId: string, app = 'app') => (await ctx.store.status(app, sessionId)).state

    it('reports a registered session active and an unregistered one unknown', async () => {
      const record = await register('s1', { sid: 'sid-1', authTime: ctx.clock.now() - 5 })
      expect(record).toMatchObject({ sessionId: 's1', sub: 'alice', sid: 'sid-1', authTime: ctx.clock.now() - 5 })
      expect(await state('s1')).toBe('active')
      expect(await state('nope')).toBe('unknown')
    })

    it('a sid logout ends the sessions of that sid only', async () => {
      await register('s1', { sid: 'sid-1' })
      await register('s2', { sid: 'sid-2' })
      expect(await revoke({ sid: 'sid-1', sub: 'alice' })).toEqual({ revoked: 1 })
      expect(await ctx.store.status('app', 's1')).toEqual({ state: 'revoked', revokedAt: ctx.clock.now() })
      expect(await state('s2')).toBe('active')
    })

    it('a sub logout without sid ends every session of that user and no one else', async () => {
      await register('s1', { sid: 'sid-1' })
      await register('s2', { sid: 'sid-2' })
      await register('s3')
      await register('b1', { sub: 'bob', sid: 'sid-b' })
      expect(await revoke({ sub: 'alice' })).toEqual({ revoked: 3 })
      expect([await state('s1'), await state('s2'), await state('s3')]).toEqual(['revoked', 'revoked', 'revoked'])
      expect(await state('b1')).toBe('active')
    })

    it('logoutScope "user" widens a sid logout to every session of its user', async () => {
      await register('s1', { sid: 'sid-1' })
      await register('s2', { sid: 'sid-2' })
      await register('b1', { sub: 'bob' })
      expect(await revoke({ sid: 'sid-1', scope: 'user' })).toEqual({ revoked: 2 })
      expect([await state('s1'), await state('s2'), await state('b1')]).toEqual(['revoked', 'revoked', 'active'])
    })

    it('keeps issuers apart: the same sid and sub at another issuer stay active', async () => {
      await register('s1', { sid: 'shared' })
      await register('o1', { iss: OTHER_ISS, sid: 'shared' })
      await register('o2', { iss: OTHER_ISS })
      await revoke({ sid: 'shared' })
      await revoke({ sub: 'alice' })
      expect([await state('s1'), await state('o1'), await state('o2')]).toEqual(['revoked', 'active', 'active'])
    })

    it('keeps applications apart', async () => {
      await register('s1', { sid: 'sid-1' })
      await ctx.store.register({ app: 'other', iss: ISS, sessionId: 's1', sub: 'alice', sid: 'sid-1' })
      await revoke({ sub: 'alice', sid: 'sid-1' })
      expect([await state('s1'), await state('s1', 'other')]).toEqual(['revoked', 'active'])
    })

    it('counts only sessions it ended: an unknown session or a second logout ends 0', async () => {
      expect(await revoke({ sid: 'never-registered' })).toEqual({ revoked: 0 })
      await register('s1', { sid: 'sid-1' })
      expect(await revoke({ sid: 'sid-1' })).toEqual({ revoked: 1 })
      expect(await revoke({ sid: 'sid-1' })).toEqual({ revoked: 0 })
    })

    it('counts across kinds: a subject-wide logout after a sid logout counts only what it ends', async () => {
      await register('s1', { sid: 'sid-1' })
      await register('s2', { sid: 'sid-2' })
      await register('s3')
      expect(await revoke({ sid: 'sid-1', sub: 'alice' })).toEqual({ revoked: 1 })
      ctx.clock.advance(1)
      expect(await revoke({ sub: 'alice' })).toEqual({ revoked: 2 })
      expect(await revoke({ sub: 'alice' })).toEqual({ revoked: 0 })
    })

    it('a logout that arrives before its session still wins (sid)', async () => {
      await revoke({ sid: 'early' })
      ctx.clock.advance(10)
      await register('late', { sid: 'early' })
      expect(await state('late')).toBe('revoked')
    })

    it('a subject-wide logout covers later registrations authenticated at or before it, not after', async () => {
      const logoutAt = ctx.clock.now()
      await revoke({ sub: 'alice', issuedAt: logoutAt })
      ctx.clock.advance(10)
      await register('before', { authTime: logoutAt - 30 })
      await register('same', { authTime: logoutAt })
      await register('after', { authTime: logoutAt + 5 })
      await register('now') // no authTime: registration time, after the logout
      expect([await state('before'), await state('same'), await state('after'), await state('now')]).toEqual([
        'revoked',
        'revoked',
        'active',
        'active',
      ])
    })

    it('keeps a session without expiresAt for DEFAULT_SESSION_TTL seconds', async () => {
      await register('s1')
      ctx.clock.advance(DEFAULT_SESSION_TTL - 1)
      expect(await state('s1')).toBe('active')
      ctx.clock.advance(2)
      expect(await state('s1')).toBe('unknown')
    })

    it('remembers a logout for DEFAULT_RETENTION seconds: a session registered just before is born revoked, after not', async () => {
      const logoutAt = ctx.clock.now()
      await revoke({ sid: 'sid-9' })
      await revoke({ sub: 'alice', issuedAt: logoutAt })
      ctx.clock.advance(DEFAULT_RETENTION - 1)
      await register('late-sid', { sid: 'sid-9', sub: 'bob' })
      await register('late-sub', { authTime: logoutAt })
      expect([await state('late-sid'), await state('late-sub')]).toEqual(['revoked', 'revoked'])
      ctx.clock.advance(2)
      await register('later-sid', { sid: 'sid-9', sub: 'bob' })
      await register('later-sub', { authTime: logoutAt })
      expect([await state('later-sid'), await state('later-sub')]).toEqual(['active', 'active'])
    })

    it('recorded(): a logout is recorded once revoke() has run for it, or for a later one', async ({ skip }) => {
      const { store } = ctx
      if (!store.recorded)
        return skip('this store has no recorded(): a crash between claim and revocation is answered "replayed"')
      const at = ctx.clock.now()
      const recorded = (fields: Partial<RevocationTarget>) =>
        store.recorded?.({ app: 'app', iss: ISS, scope: 'session', issuedAt: at, ...fields })
      await register('s1', { sid: 'sid-1' })

      expect(await recorded({ sid: 'sid-1', sub: 'alice' })).toBe(false)
      await revoke({ sid: 'sid-1', sub: 'alice', issuedAt: at })
      expect(await recorded({ sid: 'sid-1', sub: 'alice' })).toBe(true)
      expect(await recorded({ sid: 'sid-1', issuedAt: at + 60 })).toBe(true) // a tombstone ends the whole sid
      expect(await recorded({ sid: 'sid-2' })).toBe(false)
      expect(await recorded({ sid: 'sid-1', app: 'other-app' })).toBe(false)
      expect(await recorded({ sid: 'sid-1', sub: 'alice', scope: 'user' })).toBe(false) // no watermark yet

      expect(await recorded({ sub: 'alice' })).toBe(false)
      await revoke({ sub: 'alice', issuedAt: at })
      expect(await recorded({ sub: 'alice', issuedAt: at - 10 })).toBe(true)
      expect(await recorded({ sub: 'alice' })).toBe(true)
      expect(await recorded({ sub: 'alice', issuedAt: at + 10 })).toBe(false)
      expect(await recorded({ sub: 'alice', iss: OTHER_ISS })).toBe(false)
      expect(await recorded({ sid: 'sid-1', sub: 'alice', scope: 'user' })).toBe(true)
    })

    it('honours expiresAt: an expired session is unknown', async () => {
      await register('s1', { sid: 'sid-1', expiresAt: ctx.clock.now() + 60 })
      ctx.clock.advance(59)
      expect(await state('s1')).toBe('active')
      ctx.clock.advance(2)
      expect(await state('s1')).toBe('unknown')
      expect(await revoke({ sid: 'sid-1' })).toEqual({ revoked: 0 })
    })

    it('lists the sessions of one user, oldest first', async () => {
      await register('s1', { sid: 'sid-1' })
      ctx.clock.advance(1)
      await register('s2', { sid: 'sid-2' })
      await register('b1', { sub: 'bob' })
      await register('o1', { iss: OTHER_ISS })
      const sessions = await ctx.store.list('app', ISS, 'alice')
      expect(sessions.map((s) => s.sessionId)).toEqual(['s1', 's2'])
    })

    it('ends one session locally', async () => {
      await register('s1', { sid: 'sid-1' })
      await register('s2', { sid: 'sid-1' })
      expect(await ctx.store.end('app', 's1')).toEqual({ ended: true })
      expect(await ctx.store.end('app', 's1')).toEqual({ ended: false })
      expect(await ctx.store.end('app', 'nope')).toEqual({ ended: false })
      expect([await state('s1'), await state('s2')]).toEqual(['revoked', 'active'])
    })

    describe('listByEmail(), for Shared Signals email subjects', () => {
      /** The store's listByEmail, or a loud skip. */
      const byEmail = (skip: (note: string) => never) => {
        const { listByEmail } = ctx.store
        if (!listByEmail) return skip('this store has no listByEmail(): email subjects match no session')
        return (email: string, app = 'app') => listByEmail.call(ctx.store, app, email)
      }

      it('finds the sessions registered with an email, case-insensitively, at any issuer, oldest first', async ({
        skip,
      }) => {
        const list = byEmail(skip)
        await register('s1', { sid: 'sid-1', email: 'Alice@Example.com' })
        ctx.clock.advance(1)
        await register('s2', { iss: OTHER_ISS, email: 'alice@example.COM' })
        await register('s3') // the same user, registered without an email
        await register('b1', { sub: 'bob', email: 'bob@example.com' })
        await register('a2', { email: 'alice+work@example.com' })
        await ctx.store.register({ app: 'other', iss: ISS, sessionId: 'x1', sub: 'alice', email: 'alice@example.com' })
        const found = await list('ALICE@example.com')
        expect(found.map((s) => [s.sessionId, s.email])).toEqual([
          ['s1', 'Alice@Example.com'],
          ['s2', 'alice@example.COM'],
        ])
        expect(found[0]).toMatchObject({ iss: ISS, sub: 'alice', sid: 'sid-1' })
        expect(await list('nobody@example.com')).toEqual([])
      })

      it("lists an email's revoked sessions until they expire, then none", async ({ skip }) => {
        const list = byEmail(skip)
        await register('s1', { sid: 'sid-1', email: 'alice@example.com', expiresAt: ctx.clock.now() + 60 })
        await revoke({ sid: 'sid-1' })
        expect((await list('alice@example.com')).map((s) => [s.sessionId, s.revokedAt])).toEqual([
          ['s1', ctx.clock.now()],
        ])
        ctx.clock.advance(61)
        expect(await list('alice@example.com')).toEqual([])
      })

      it('reads sessions registered without an email as before', async ({ skip }) => {
        const list = byEmail(skip)
        const record = await register('s1', { sid: 'sid-1' })
        expect(record).not.toHaveProperty('email')
        expect(await state('s1')).toBe('active')
        expect((await ctx.store.list('app', ISS, 'alice'))[0]).not.toHaveProperty('email')
        expect(await list('alice@example.com')).toEqual([])
      })

      it('round-trips odd characters in an email', async ({ skip }) => {
        const list = byEmail(skip)
        for (const [i, odd] of ODD_STRINGS.entries()) {
          const email = `${odd}@Example.com`
          await register(`s-${i}`, { email })
          expect((await list(email.toUpperCase())).map((s) => s.email)).toEqual([email])
        }
      })
    })

    describe('claimAndRevoke(), for a store that is also a ReplayStore', () => {
      /** The store's claimAndRevoke, or a loud skip. */
      const claimAndRevoke = (skip: (note: string) => never) => {
        const store = ctx.store as SessionStore & Partial<ReplayStore>
        const { claimAndRevoke } = store
        if (!claimAndRevoke || !store.claim) {
          return skip('this store has no claimAndRevoke(): the flow claims, then revokes (two writes)')
        }
        return { claim: store.claim.bind(store), claimAndRevoke: claimAndRevoke.bind(store) }
      }

      it('claims the key and revokes in one call; while the key is held it writes nothing', async ({ skip }) => {
        const { claim, claimAndRevoke: both } = claimAndRevoke(skip)
        await register('s1', { sid: 'sid-1' })
        await register('s2', { sid: 'sid-2' })
        const until = ctx.clock.now() + 120
        expect(await both('k', until, target({ sid: 'sid-1', sub: 'alice' }))).toEqual({ claimed: true, revoked: 1 })
        expect(await state('s1')).toBe('revoked')

        expect(await both('k', until, target({ sid: 'sid-2' }))).toEqual({ claimed: false })
        expect(await state('s2')).toBe('active')
        expect(await ctx.store.recorded?.(target({ sid: 'sid-2' }))).not.toBe(true)
        // The same claims as claim()'s, both ways.
        expect(await claim('k', until)).toBe(false)
        expect(await claim('k2', until)).toBe(true)
        expect(await both('k2', until, target({ sid: 'sid-2' }))).toEqual({ claimed: false })

        ctx.clock.advance(121)
        const later = ctx.clock.now() + 120
        expect(await both('k', later, target({ sid: 'sid-2' }))).toEqual({ claimed: true, revoked: 1 })
        expect(await state('s2')).toBe('revoked')
      })

      it('exactly one of 20 concurrent calls for one key claims it and revokes', async ({ skip }) => {
        const { claimAndRevoke: both } = claimAndRevoke(skip)
        for (const id of ['s1', 's2', 's3']) await register(id, { sid: `sid-${id}` })
        const until = ctx.clock.now() + 120
        const results = await Promise.all(
          Array.from({ length: 20 }, () => both('race', until, target({ sub: 'alice' }))),
        )
        expect(results.filter((r) => r.claimed)).toEqual([{ claimed: true, revoked: 3 }])
        expect([await state('s1'), await state('s2'), await state('s3')]).toEqual(['revoked', 'revoked', 'revoked'])
      })
    })

    it('round-trips odd characters in every id', async () => {
      for (const [i, odd] of ODD_STRINGS.entries()) {
        const app = `app-${i}`
        const input = { app, iss: `https://id.example.com/${odd}`, sessionId: odd, sub: odd, sid: odd }
        await ctx.store.register(input)
        expect(await ctx.store.list(app, input.iss, odd)).toMatchObject([input])
        expect(
          await ctx.store.revoke({ app, iss: input.iss, sid: odd, scope: 'session', issuedAt: ctx.clock.now() }),
        ).toEqual({ revoked: 1 })
        expect((await ctx.store.status(app, odd)).state).toBe('revoked')
      }
    })
  })
}

/**
 * Runs the replay conformance suite against a store.
 *
 * @example
 * ```ts
 * describeReplayStore('redis', (clock) => redisReplayStore({ url, now: clock.now }))
 * ```
 */
export function describeReplayStore(name: string, factory: Factory<ReplayStore>): void {
  describe(`ReplayStore conformance: ${name}`, () => {
    const ctx = useSubject(factory)

    it('lets a key be claimed once', async () => {
      const until = ctx.clock.now() + 120
      expect(await ctx.store.claim('k1', until)).toBe(true)
      expect(await ctx.store.claim('k1', until)).toBe(false)
      expect(await ctx.store.claim('k2', until)).toBe(true)
    })

    it('lets exactly one of 50 concurrent claims win', async () => {
      const until = ctx.clock.now() + 120
      const results = await Promise.all(Array.from({ length: 50 }, () => ctx.store.claim('race', until)))
      expect(results.filter(Boolean)).toHaveLength(1)
    })

    it('frees a key once its expiry has passed', async () => {
      const until = ctx.clock.now() + 120
      expect(await ctx.store.claim('k', until)).toBe(true)
      ctx.clock.advance(119)
      expect(await ctx.store.claim('k', until)).toBe(false)
      ctx.clock.advance(2)
      expect(await ctx.store.claim('k', ctx.clock.now() + 120)).toBe(true)
      expect(await ctx.store.claim('k', ctx.clock.now() + 120)).toBe(false)
    })

    it('frees a released key at once', async () => {
      expect(await ctx.store.claim('k', ctx.clock.now() + 120)).toBe(true)
      await ctx.store.release('k')
      expect(await ctx.store.claim('k', ctx.clock.now() + 120)).toBe(true)
    })

    it('keeps keys with odd characters apart', async () => {
      for (const odd of ODD_STRINGS) {
        expect(await ctx.store.claim(odd, ctx.clock.now() + 60)).toBe(true)
        expect(await ctx.store.claim(odd, ctx.clock.now() + 60)).toBe(false)
      }
      expect(await ctx.store.claim('a/b:c?d#e', ctx.clock.now() + 60)).toBe(true)
    })
  })
}
