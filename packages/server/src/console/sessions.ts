/**
 * Signing in to the console: the admin token, or an application's API key (its owner's tenant
 * space), is exchanged for an opaque session id in a cookie; the session lives in the gateway store
 * under the id's hash (so every worker and instance knows it, and signing out ends it everywhere),
 * for a fixed {@link SESSION_SECONDS}.
 * @module
 */
import { randomBytes, timingSafeEqual } from 'node:crypto'
import { hashToken } from '@backchannel/admin'
import type { ConsoleSession, ConsoleSessionStore } from '@backchannel/unstorage'

/** The session cookie's name. */
export const SESSION_COOKIE = 'backchannel_console'
/**
 * Seconds a session lasts from sign-in, however active (fixed, not sliding: no store write per
 * page, and a stolen cookie is useful for 8 hours at most).
 */
export const SESSION_SECONDS = 8 * 3600

/** A signed-in session and its id's hash (to end it). */
export interface SignedIn {
  idHash: string
  session: ConsoleSession
}

/** The attributes of the session cookie; `secure` when the console is reached over https. */
export function sessionCookie(secure: boolean, maxAge: number) {
  return { httpOnly: true, sameSite: 'strict', path: '/admin', secure, maxAge } as const
}

/** Who a session is for: the admin, or the owner of `app` signed in with the key of hash `apiKeyHash`. */
export type SignedInAs = { role: 'admin' } | { role: 'owner'; app: string; apiKeyHash: string }

/** Starts a session for `who`; returns the cookie value (the id, never stored) and the session. */
export async function startSession(
  store: ConsoleSessionStore,
  who: SignedInAs,
  now: number,
): Promise<{ id: string; session: ConsoleSession }> {
  const id = randomBytes(32).toString('base64url')
  const session: ConsoleSession = {
    ...who,
    csrfToken: randomBytes(32).toString('base64url'),
    createdAt: now,
    expiresAt: now + SESSION_SECONDS,
  }
  await store.create(hashToken(id), session)
  return { id, session }
}

/** The session of a cookie value, when it is a live one. */
export async function findSession(store: ConsoleSessionStore, id: string | undefined): Promise<SignedIn | undefined> {
  if (!id || id.length > 100) return undefined
  const idHash = hashToken(id)
  const session = await store.get(idHash)
  return session && { idHash, session }
}

/** Whether a form's CSRF token is the session's (compared in constant time). */
export function validCsrf(session: ConsoleSession, sent: unknown): boolean {
  if (typeof sent !== 'string') return false
  const a = Buffer.from(sent)
  const b = Buffer.from(session.csrfToken)
  return a.length === b.length && timingSafeEqual(a, b)
}
