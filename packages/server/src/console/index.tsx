/**
 * The admin console at `/admin`: server-rendered pages over the admin API, for the people who
 * register applications by hand. This module signs people in and out, refuses cross-site
 * requests, and hands each signed-in request to its page or action (`routes.tsx`); every answer
 * carries the console's security headers (`http.ts`).
 * @module
 */
import { timingSafeEqual } from 'node:crypto'
import { type AdminDependencies, hashToken } from '@backchannel/admin'
import { errorStatus, type LogoutVerifier, type SetVerifier } from '@backchannel/core'
import type { GatewayStore } from '@backchannel/unstorage'
import { TRPCError } from '@trpc/server'
import { getHTTPStatusCodeFromError } from '@trpc/server/http'
import { deleteCookie, getCookie, type H3Event, setCookie } from 'h3'
import type { FailureLimiter } from '../rate-limit.js'
import { adminCaller, apiFailure } from './api.js'
import { asset } from './assets.js'
import { type FormValues, readForm } from './forms.js'
import { forbidden, page, sameOrigin, secured, seeOther } from './http.js'
import { SignInPage } from './pages/sign-in.js'
import { Layout } from './pages/ui.js'
import { ROUTES, type RouteDependencies } from './routes/index.js'
import { findSession, SESSION_COOKIE, SESSION_SECONDS, sessionCookie, startSession, validCsrf } from './sessions.js'

/** Options of {@link createConsole}. */
export interface ConsoleOptions {
  /** The admin API's dependencies: the console calls its procedures in process with them. */
  admin: AdminDependencies
  store: GatewayStore
  /** The gateway's public URL (`BACKCHANNEL_PUBLIC_URL`): logout URLs, and an accepted `Origin`. */
  publicUrl: string
  /** The gateway's own verifiers (sharing its key cache), for the token debugger. */
  verifiers: { logout: LogoutVerifier; set: SetVerifier }
  /** Counts failed sign-ins per client address. */
  limiter: FailureLimiter
  /** Mark the cookie `Secure` even on `http:` requests: TLS ends at a trusted proxy. Default false. */
  secureCookies?: boolean
  /** The clock, seconds since epoch. */
  now?: () => number
  /** Told of an error no page expected (the store down, a bug); the page then says only that it failed. */
  onError?: (error: unknown) => void
}

/** The console: answers every request under `/admin`. */
export interface Console {
  /** Answers `event`, coming from the client at `address` (for the sign-in throttle). */
  handle(event: H3Event, address: string): Promise<Response>
}

/** Larger form bodies are refused, read no further than this however they are framed. */
const MAX_FORM_BYTES = 100_000

/**
 * Builds the console.
 *
 * @example
 * ```ts
 * const adminConsole = createConsole({ admin, store, publicUrl, verifiers, limiter })
 * app.all('/admin/**', (event) => adminConsole.handle(event, '127.0.0.1'))
 * ```
 */
export function createConsole(options: ConsoleOptions): Console {
  const now = options.now ?? (() => Date.now() / 1000)
  const api = adminCaller(options.admin)
  const publicUrl = options.publicUrl.replace(/\/$/, '')
  const deps: RouteDependencies = {
    publicUrl,
    tokens: { ...options.verifiers, store: options.store, now },
  }
  const sessions = options.store.consoleSessions
  const adminHash = Buffer.from(options.admin.adminTokenHash)

  async function signIn(event: H3Event, address: string, { token }: FormValues): Promise<Response> {
    if (typeof token === 'string' && token !== '' && timingSafeEqual(Buffer.from(hashToken(token)), adminHash)) {
      const { id } = await startSession(sessions, now())
      setCookie(event, SESSION_COOKIE, id, sessionCookie(secure(event), SESSION_SECONDS))
      return seeOther('/admin/apps')
    }
    const wait = options.limiter.fail(address, '/admin')
    if (wait !== undefined) {
      const response = page(
        <SignInPage error={`Too many failed sign-ins from your address: try again in ${wait} s.`} />,
        429,
      )
      response.headers.set('retry-after', String(wait))
      return response
    }
    return page(<SignInPage error="This is not the admin token." />, 401)
  }

  const secure = (event: H3Event) => options.secureCookies === true || event.url.protocol === 'https:'

  async function route(event: H3Event, address: string): Promise<Response> {
    const { pathname } = event.url
    const method = event.req.method
    if (pathname.startsWith('/admin/assets/')) {
      return (method === 'GET' && asset(pathname.slice('/admin/assets/'.length))) || notFound()
    }
    if (method === 'POST') {
      if (!sameOrigin(event.req, publicUrl)) return forbidden('cross-site request refused')
    }
    // Read before the session is looked up: the sign-in form is reachable without one.
    const form = method === 'POST' ? await readForm(event.req, MAX_FORM_BYTES) : {}
    if (form === undefined) return new Response('form too large\n', { status: 413 })
    if (pathname === '/admin/sign-in') {
      if (method === 'POST') return signIn(event, address, form)
      return page(<SignInPage />)
    }
    const signedIn = await findSession(sessions, getCookie(event, SESSION_COOKIE))
    if (!signedIn) return method === 'GET' ? seeOther('/admin/sign-in') : forbidden('sign in first')
    if (method === 'POST' && !validCsrf(signedIn.session, form.csrf)) {
      return forbidden('this form is stale or came from elsewhere: reload the page')
    }
    if (pathname === '/admin/sign-out' && method === 'POST') {
      await sessions.delete(signedIn.idHash)
      deleteCookie(event, SESSION_COOKIE, sessionCookie(secure(event), 0))
      return seeOther('/admin/sign-in')
    }
    if (pathname === '/admin' || pathname === '/admin/') return seeOther('/admin/apps')
    const match = /^\/admin\/apps\/([a-z0-9][a-z0-9-]{0,62})(\/[a-z-]+)?$/.exec(pathname)
    const key = match ? `${method} /admin/apps/:name${match[2] ?? ''}` : `${method} ${pathname}`
    const handler = ROUTES[key]
    if (!handler) return notFound()
    const ctx = { csrf: signedIn.session.csrfToken }
    try {
      return await handler({ url: event.url, form, ctx, api, name: match?.[1] ?? '' }, deps)
    } catch (err) {
      // A read the API refused (an application deleted meanwhile): its message, its status.
      if (!(err instanceof TRPCError)) throw err
      const failure = apiFailure(err)
      return page(
        <Layout title="Refused" ctx={ctx}>
          <p role="alert">{failure.message}</p>
        </Layout>,
        getHTTPStatusCodeFromError(err),
      )
    }
  }

  return {
    async handle(event, address) {
      try {
        return secured(await route(event, address))
      } catch (err) {
        options.onError?.(err)
        const { status, retryAfter } = errorStatus(err)
        const response = page(
          <Layout title="The console could not answer">
            <p role="alert">
              {status === 503 ? 'The store does not answer: try again in a moment.' : 'Something went wrong.'}
            </p>
          </Layout>,
          status,
        )
        if (retryAfter !== undefined) response.headers.set('retry-after', String(retryAfter))
        return secured(response)
      }
    },
  }
}

const notFound = () => page(<Layout title="Not found">{null}</Layout>, 404)
