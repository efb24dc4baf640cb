/**
 * The conformance cases of a {@link SessionStore}: the semantics of "Sessions and what a logout
 * ends". Build the session store with its default session TTL and retention: the cases prove them
 * ({@link DEFAULT_SESSION_TTL}, {@link DEFAULT_RETENTION}).
 * @module
 */
import type { ReplayStore } from '../replay.js'
import {
  DEFAULT_RETENTION,
  DEFAULT_SESSION_TTL,
  type RevocationTarget,
  type SessionInput,
  type SessionStore,
} from '../session.js'
import { equal, match, ok } from './_internal/check.js'
import { type CaseContext, defineCase } from './_internal/define-case.js'
import { type ConformanceCase, type Factory, ODD_STRINGS } from './cases.js'

const ISS = 'https://id.example.com/realms/main'
const OTHER_ISS = 'https://other.example.com'

/** The helpers every session case uses, over one case's store and clock. */
function helpers({ store, clock }: CaseContext<SessionStore>) {
  const register = (sessionId: string, fields: Partial<SessionInput> = {}) =>
    store.register({ app: 'app', iss: ISS, sessionId, sub: 'alice', ...fields })
  const target = (fields: Partial<RevocationTarget>): RevocationTarget => ({
    app: 'app',
    iss: ISS,
    scope: 'session',
    issuedAt: clock.now(),
    ...fields,
  })
  const revoke = (fields: Partial<RevocationTarget>) => store.revoke(target(fields))
  const state = async (sessionId: string, app = 'app') => (await store.status(app, sessionId)).state
  const states = (...ids: string[]) => Promise.all(ids.map((id) => state(id)))
  return { register, target, revoke, state, states }
}

/** The store's claimAndRevoke and claim, or a skip. */
function claimAndRevokeOf({ store, skip }: CaseContext<SessionStore>) {
  const both = store as SessionStore & Partial<ReplayStore>
  if (!both.claimAndRevoke || !both.claim) {
    return skip('this store has no claimAndRevoke(): the flow claims, then revokes (two writes)')
  }
  return { claim: both.claim.bind(both), claimAndRevoke: both.claimAndRevoke.bind(both) }
}

/** The store's listByEmail over app `app` by default, or a skip. */
function listByEmailOf({ store, skip }: CaseContext<SessionStore>) {
  const { listByEmail } = store
  if (!listByEmail) return skip('this store has no listByEmail(): email subjects match no session')
  return (email: string, app = 'app') => listByEmail.call(store, app, email)
}

/**
 * The session conformance cases against the stores `factory` builds, one fresh store per case.
 *
 * @example
 * ```ts
 * import { sessionStoreCases } from '@backchannel/core/testing'
 * for (const c of sessionStoreCases(async (clock) => createSqlStore({ now: clock.now }))) {
 *   await c.run() // rejects with ERR_CONFORMANCE, or ERR_CASE_SKIPPED for an optional method
 * }
 * ```
 */
export function sessionStoreCases(factory: Factory<SessionStore>): ConformanceCase[] {
  const it = (name: string, check: (ctx: CaseContext<SessionStore>) => Promise<void>) =>
    defineCase(factory, name, check)
  return [
    it('reports a registered session active and an unregistered one unknown', async (ctx) => {
      const { register, state } = helpers(ctx)
      const record = await register('s1', { sid: 'sid-1', authTime: ctx.clock.now() - 5 })
      match(record, { sessionId: 's1', sub: 'alice', sid: 'sid-1', authTime: ctx.clock.now() - 5 }, 'register()')
      equal(await state('s1'), 'active', 'a registered session')
      equal(await state('nope'), 'unknown', 'an unregistered session')
    }),

    it('a sid logout ends the sessions of that sid only', async (ctx) => {
      const { register, revoke, state } = helpers(ctx)
      await register('s1', { sid: 'sid-1' })
      await register('s2', { sid: 'sid-2' })
      equal(await revoke({ sid: 'sid-1', sub: 'alice' }), { revoked: 1 }, 'revoke()')
      equal(await ctx.store.status('app', 's1'), { state: 'revoked', revokedAt: ctx.clock.now() }, 'status of s1')
      equal(await state('s2'), 'active', 'state of s2')
    }),

    it('a sub logout without sid ends every session of that user and no one else', async (ctx) => {
      const { register, revoke, state, states } = helpers(ctx)
      await register('s1', { sid: 'sid-1' })
      await register('s2', { sid: 'sid-2' })
      await register('s3')
      await register('b1', { sub: 'bob', sid: 'sid-b' })
      equal(await revoke({ sub: 'alice' }), { revoked: 3 }, 'revoke()')
      equal(await states('s1', 's2', 's3'), ['revoked', 'revoked', 'revoked'], "states of alice's sessions")
      equal(await state('b1'), 'active', "state of bob's session")
    }),

    it('logoutScope "user" widens a sid logout to every session of its user', async (ctx) => {
      const { register, revoke, states } = helpers(ctx)
      await register('s1', { sid: 'sid-1' })
      await register('s2', { sid: 'sid-2' })
      await register('b1', { sub: 'bob' })
      equal(await revoke({ sid: 'sid-1', scope: 'user' }), { revoked: 2 }, 'revoke()')
      equal(await states('s1', 's2', 'b1'), ['revoked', 'revoked', 'active'], 'states of s1, s2, b1')
    }),

    it('keeps issuers apart: the same sid and sub at another issuer stay active', async (ctx) => {
      const { register, revoke, states } = helpers(ctx)
      await register('s1', { sid: 'shared' })
      await register('o1', { iss: OTHER_ISS, sid: 'shared' })
      await register('o2', { iss: OTHER_ISS })
      await revoke({ sid: 'shared' })
      await revoke({ sub: 'alice' })
      equal(await states('s1', 'o1', 'o2'), ['revoked', 'active', 'active'], 'states of s1, o1, o2')
    }),

    it('keeps applications apart', async (ctx) => {
      const { register, revoke, state } = helpers(ctx)
      await register('s1', { sid: 'sid-1' })
      await ctx.store.register({ app: 'other', iss: ISS, sessionId: 's1', sub: 'alice', sid: 'sid-1' })
      await revoke({ sub: 'alice', sid: 'sid-1' })
      equal([await state('s1'), await state('s1', 'other')], ['revoked', 'active'], 'states of s1 in app, other')
    }),

    it('counts only sessions it ended: an unknown session or a second logout ends 0', async (ctx) => {
      const { register, revoke } = helpers(ctx)
      equal(await revoke({ sid: 'never-registered' }), { revoked: 0 }, 'revoke() of an unknown sid')
      await register('s1', { sid: 'sid-1' })
      equal(await revoke({ sid: 'sid-1' }), { revoked: 1 }, 'revoke()')
      equal(await revoke({ sid: 'sid-1' }), { revoked: 0 }, 'revoke() again')
    }),

    it('counts across kinds: a subject-wide logout after a sid logout counts only what it ends', async (ctx) => {
      const { register, revoke } = helpers(ctx)
      await register('s1', { sid: 'sid-1' })
      await register('s2', { sid: 'sid-2' })
      await register('s3')
      equal(await revoke({ sid: 'sid-1', sub: 'alice' }), { revoked: 1 }, 'the sid logout')
      ctx.clock.advance(1)
      equal(await revoke({ sub: 'alice' }), { revoked: 2 }, 'the sub logout')
      equal(await revoke({ sub: 'alice' }), { revoked: 0 }, 'the sub logout again')
    }),

    it('a logout that arrives before its session still wins (sid)', async (ctx) => {
      const { register, revoke, state } = helpers(ctx)
      await revoke({ sid: 'early' })
      ctx.clock.advance(10)
      await register('late', { sid: 'early' })
      equal(await state('late'), 'revoked', 'a session registered after its sid was logged out')
    }),

    it('a subject-wide logout covers later registrations authenticated at or before it, not after', async (ctx) => {
      const { register, revoke, states } = helpers(ctx)
      const logoutAt = ctx.clock.now()
      await revoke({ sub: 'alice', issuedAt: logoutAt })
      ctx.clock.advance(10)
      await register('before', { authTime: logoutAt - 30 })
      await register('same', { authTime: logoutAt })
      await register('after', { authTime: logoutAt + 5 })
      await register('now') // no authTime: registration time, after the logout
      equal(
        await states('before', 'same', 'after', 'now'),
        ['revoked', 'revoked', 'active', 'active'],
        'states of before, same, after, now',
      )
    }),

    it('keeps a session without expiresAt for DEFAULT_SESSION_TTL seconds', async (ctx) => {
      const { register, state } = helpers(ctx)
      await register('s1')
      ctx.clock.advance(DEFAULT_SESSION_TTL - 1)
      equal(await state('s1'), 'active', 'a second before DEFAULT_SESSION_TTL')
      ctx.clock.advance(2)
      equal(await state('s1'), 'unknown', 'a second after DEFAULT_SESSION_TTL')
    }),

    it('remembers a logout for DEFAULT_RETENTION seconds: a session registered just before is born revoked, after not', async (ctx) => {
      const { register, revoke, states } = helpers(ctx)
      const logoutAt = ctx.clock.now()
      await revoke({ sid: 'sid-9' })
      await revoke({ sub: 'alice', issuedAt: logoutAt })
      ctx.clock.advance(DEFAULT_RETENTION - 1)
      await register('late-sid', { sid: 'sid-9', sub: 'bob' })
      await register('late-sub', { authTime: logoutAt })
      equal(await states('late-sid', 'late-sub'), ['revoked', 'revoked'], 'a second before DEFAULT_RETENTION')
      ctx.clock.advance(2)
      await register('later-sid', { sid: 'sid-9', sub: 'bob' })
      await register('later-sub', { authTime: logoutAt })
      equal(await states('later-sid', 'later-sub'), ['active', 'active'], 'a second after DEFAULT_RETENTION')
    }),

    it('recorded(): a logout is recorded once revoke() has run for it, or for a later one', async (ctx) => {
      const { store, skip } = ctx
      const { register, revoke } = helpers(ctx)
      const recordedOf = store.recorded?.bind(store)
      if (!recordedOf)
        return skip('this store has no recorded(): a crash between claim and revocation is answered "replayed"')
      const at = ctx.clock.now()
      const recorded = (fields: Partial<RevocationTarget>) =>
        recordedOf({ app: 'app', iss: ISS, scope: 'session', issuedAt: at, ...fields })
      await register('s1', { sid: 'sid-1' })

      equal(await recorded({ sid: 'sid-1', sub: 'alice' }), false, 'a sid before its logout')
      await revoke({ sid: 'sid-1', sub: 'alice', issuedAt: at })
      equal(await recorded({ sid: 'sid-1', sub: 'alice' }), true, 'a sid after its logout')
      equal(
        await recorded({ sid: 'sid-1', issuedAt: at + 60 }),
        true,
        'a later logout of the sid (a tombstone ends it)',
      )
      equal(await recorded({ sid: 'sid-2' }), false, 'another sid')
      equal(await recorded({ sid: 'sid-1', app: 'other-app' }), false, 'the sid in another app')
      equal(await recorded({ sid: 'sid-1', sub: 'alice', scope: 'user' }), false, 'scope user, no watermark yet')

      equal(await recorded({ sub: 'alice' }), false, 'a sub before its logout')
      await revoke({ sub: 'alice', issuedAt: at })
      equal(await recorded({ sub: 'alice', issuedAt: at - 10 }), true, 'an earlier sub logout')
      equal(await recorded({ sub: 'alice' }), true, 'the sub logout')
      equal(await recorded({ sub: 'alice', issuedAt: at + 10 }), false, 'a later sub logout')
      equal(await recorded({ sub: 'alice', iss: OTHER_ISS }), false, 'the sub at another issuer')
      equal(await recorded({ sid: 'sid-1', sub: 'alice', scope: 'user' }), true, 'scope user, after the watermark')
    }),

    it('honours expiresAt: an expired session is unknown', async (ctx) => {
      const { register, revoke, state } = helpers(ctx)
      await register('s1', { sid: 'sid-1', expiresAt: ctx.clock.now() + 60 })
      ctx.clock.advance(59)
      equal(await state('s1'), 'active', 'a second before expiresAt')
      ctx.clock.advance(2)
      equal(await state('s1'), 'unknown', 'a second after expiresAt')
      equal(await revoke({ sid: 'sid-1' }), { revoked: 0 }, 'revoke() of the expired session')
    }),

    it('lists the sessions of one user, oldest first', async (ctx) => {
      const { register } = helpers(ctx)
      await register('s1', { sid: 'sid-1' })
      ctx.clock.advance(1)
      await register('s2', { sid: 'sid-2' })
      await register('b1', { sub: 'bob' })
      await register('o1', { iss: OTHER_ISS })
      const sessions = await ctx.store.list('app', ISS, 'alice')
      equal(
        sessions.map((s) => s.sessionId),
        ['s1', 's2'],
        'list()',
      )
    }),

    it('ends one session locally', async (ctx) => {
      const { register, states } = helpers(ctx)
      await register('s1', { sid: 'sid-1' })
      await register('s2', { sid: 'sid-1' })
      equal(await ctx.store.end('app', 's1'), { ended: true }, 'end()')
      equal(await ctx.store.end('app', 's1'), { ended: false }, 'end() again')
      equal(await ctx.store.end('app', 'nope'), { ended: false }, 'end() of an unknown session')
      equal(await states('s1', 's2'), ['revoked', 'active'], 'states of s1, s2')
    }),

    it('listByEmail(): finds the sessions registered with an email, case-insensitively, at any issuer, oldest first', async (ctx) => {
      const { register } = helpers(ctx)
      const list = listByEmailOf(ctx)
      await register('s1', { sid: 'sid-1', email: 'Alice@Example.com' })
      ctx.clock.advance(1)
      await register('s2', { iss: OTHER_ISS, email: 'alice@example.COM' })
      await register('s3') // the same user, registered without an email
      await register('b1', { sub: 'bob', email: 'bob@example.com' })
      await register('a2', { email: 'alice+work@example.com' })
      await ctx.store.register({ app: 'other', iss: ISS, sessionId: 'x1', sub: 'alice', email: 'alice@example.com' })
      const found = await list('ALICE@example.com')
      equal(
        found.map((s) => [s.sessionId, s.email]),
        [
          ['s1', 'Alice@Example.com'],
          ['s2', 'alice@example.COM'],
        ],
        'listByEmail(ALICE@example.com)',
      )
      match(found[0], { iss: ISS, sub: 'alice', sid: 'sid-1' }, 'the first session found')
      equal(await list('nobody@example.com'), [], 'listByEmail of an email no session has')
    }),

    it("listByEmail(): lists an email's revoked sessions until they expire, then none", async (ctx) => {
      const { register, revoke } = helpers(ctx)
      const list = listByEmailOf(ctx)
      await register('s1', { sid: 'sid-1', email: 'alice@example.com', expiresAt: ctx.clock.now() + 60 })
      await revoke({ sid: 'sid-1' })
      equal(
        (await list('alice@example.com')).map((s) => [s.sessionId, s.revokedAt]),
        [['s1', ctx.clock.now()]],
        'a revoked session listed with its revokedAt',
      )
      ctx.clock.advance(61)
      equal(await list('alice@example.com'), [], 'listByEmail after the session expired')
    }),

    it('listByEmail(): reads sessions registered without an email as before', async (ctx) => {
      const { register, state } = helpers(ctx)
      const list = listByEmailOf(ctx)
      const record = await register('s1', { sid: 'sid-1' })
      ok(!('email' in record), 'register() without an email returns no email property')
      equal(await state('s1'), 'active', 'state of s1')
      ok(!('email' in ((await ctx.store.list('app', ISS, 'alice'))[0] ?? {})), 'list() shows no email property')
      equal(await list('alice@example.com'), [], 'listByEmail of an email no session has')
    }),

    it('listByEmail(): round-trips odd characters in an email', async (ctx) => {
      const { register } = helpers(ctx)
      const list = listByEmailOf(ctx)
      for (const [i, odd] of ODD_STRINGS.entries()) {
        const email = `${odd}@Example.com`
        await register(`s-${i}`, { email })
        equal(
          (await list(email.toUpperCase())).map((s) => s.email),
          [email],
          `listByEmail of ${JSON.stringify(email)}`,
        )
      }
    }),

    it('claimAndRevoke(): claims the key and revokes in one call; while the key is held it writes nothing', async (ctx) => {
      const { claim, claimAndRevoke: both } = claimAndRevokeOf(ctx)
      const { register, target, state } = helpers(ctx)
      await register('s1', { sid: 'sid-1' })
      await register('s2', { sid: 'sid-2' })
      const until = ctx.clock.now() + 120
      equal(await both('k', until, target({ sid: 'sid-1', sub: 'alice' })), { claimed: true, revoked: 1 }, 'first call')
      equal(await state('s1'), 'revoked', 'state of s1')

      equal(await both('k', until, target({ sid: 'sid-2' })), { claimed: false }, 'a call while the key is held')
      equal(await state('s2'), 'active', 'state of s2')
      ok((await ctx.store.recorded?.(target({ sid: 'sid-2' }))) !== true, 'a refused call records no logout')
      // The same claims as claim()'s, both ways.
      equal(await claim('k', until), false, 'claim() of the held key')
      equal(await claim('k2', until), true, 'claim() of a new key')
      equal(await both('k2', until, target({ sid: 'sid-2' })), { claimed: false }, 'a call on a key claim() holds')

      ctx.clock.advance(121)
      const later = ctx.clock.now() + 120
      equal(await both('k', later, target({ sid: 'sid-2' })), { claimed: true, revoked: 1 }, 'a call once it expired')
      equal(await state('s2'), 'revoked', 'state of s2')
    }),

    it('claimAndRevoke(): exactly one of 20 concurrent calls for one key claims it and revokes', async (ctx) => {
      const { claimAndRevoke: both } = claimAndRevokeOf(ctx)
      const { register, target, states } = helpers(ctx)
      for (const id of ['s1', 's2', 's3']) await register(id, { sid: `sid-${id}` })
      const until = ctx.clock.now() + 120
      const results = await Promise.all(Array.from({ length: 20 }, () => both('race', until, target({ sub: 'alice' }))))
      equal(
        results.filter((r) => r.claimed),
        [{ claimed: true, revoked: 3 }],
        'the calls that claimed',
      )
      equal(await states('s1', 's2', 's3'), ['revoked', 'revoked', 'revoked'], 'states of s1, s2, s3')
    }),

    it('round-trips odd characters in every id', async ({ store, clock }) => {
      for (const [i, odd] of ODD_STRINGS.entries()) {
        const app = `app-${i}`
        const input = { app, iss: `https://id.example.com/${odd}`, sessionId: odd, sub: odd, sid: odd }
        await store.register(input)
        match(await store.list(app, input.iss, odd), [input], `list() of ${JSON.stringify(odd)}`)
        equal(
          await store.revoke({ app, iss: input.iss, sid: odd, scope: 'session', issuedAt: clock.now() }),
          { revoked: 1 },
          `revoke() of ${JSON.stringify(odd)}`,
        )
        equal((await store.status(app, odd)).state, 'revoked', `state of ${JSON.stringify(odd)}`)
      }
    }),
  ]
}
