/**
 * The admin console at `/admin`: server-rendered pages over the admin API, for the people who
 * register applications by hand (the admin token) and for each application's owner (its API key:
 * the tenant space, that application alone). This module signs people in and out, refuses
 * cross-site requests and an owner's visit to the operator's pages, and hands each signed-in
 * request to its page or action (`routes/`); every answer carries the console's security headers
 * (`http.ts`).
 * @module
 */
import { type AdminDependencies, hashToken, isAppName, sameHash } from '@backchannel/admin'
import { errorStatus, type LogoutVerifier, type SetVerifier } from '@backchannel/core'
import type { GatewayStore } from '@backchannel/unstorage'
import { TRPCError } from '@trpc/server'
import { getHTTPStatusCodeFromError } from '@trpc/server/http'
import { deleteCookie, getCookie, type H3Event, setCookie } from 'h3'
import type { FailureLimiter } from '../rate-limit.js'
import { apiFailure, consoleCaller } from './api.js'
import { asset } from './assets.js'
import { type FormValues, readForm } from './forms.js'
import { forbidden, page, sameOrigin, secured, seeOther } from './http.js'
import { SignInPage } from './pages/sign-in.js'
import type { PageContext } from './pages/ui.js'
import { Layout } from './pages/ui.js'
import { ROUTES, type RouteDependencies } from './routes/index.js'
import {
  findSession,
  SESSION_COOKIE,
  SESSION_SECONDS,
  type SignedIn,
  type SignedInAs,
  sessionCookie,
  startSession,
  validCsrf,
} from './sessions.js'

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
  const adminApi = consoleCaller(options.admin)
  const publicUrl = options.publicUrl.replace(/\/$/, '')
  const deps: RouteDependencies = {
    publicUrl,
    tokens: { ...options.verifiers, store: options.store, now },
  }
  const sessions = options.store.consoleSessions

  /** Whose token this is: the admin's, an application's API key (its owner), or nobody's. */
  async function holder(token: string | undefined): Promise<SignedInAs | undefined> {
    if (typeof token !== 'string' || token === '') return undefined
    const hash = hashToken(token)
    if (sameHash(hash, options.admin.adminTokenHash)) return { role: 'admin' }
    const app = await options.store.apps.findByApiKeyHash(hash)
    return app === undefined ? undefined : { role: 'owner', app, apiKeyHash: hash }
  }

  async function signIn(event: H3Event, address: string, { token }: FormValues): Promise<Response> {
    const who = await holder(token)
    if (who) {
      const { id } = await startSession(sessions, who, now())
      setCookie(event, SESSION_COOKIE, id, sessionCookie(secure(event), SESSION_SECONDS))
      return seeOther(who.role === 'owner' ? `/admin/apps/${who.app}` : '/admin/apps')
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
    return page(<SignInPage error="This is neither the admin token nor an application's API key." />, 401)
  }

  const secure = (event: H3Event) => options.secureCookies === true || event.url.protocol === 'https:'

  /**
   * An owner's session lasts while its application keeps the API key it signed in with: read from
   * the store on each request, so a rotation (here, by the CLI, on another instance) ends it at once.
   */
  async function stillValid({ session }: SignedIn): Promise<boolean> {
    if (session.role === 'admin') return true
    const app = await options.store.apps.get(session.app)
    return app !== undefined && sameHash(app.apiKeyHash, session.apiKeyHash)
  }

  function signOut(event: H3Event, signedIn: SignedIn) {
    deleteCookie(event, SESSION_COOKIE, sessionCookie(secure(event), 0))
    return sessions.delete(signedIn.idHash)
  }

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
      const ended = event.url.searchParams.get('ended') === 'api-key'
      return page(<SignInPage notice={ended ? KEY_ROTATED : undefined} />)
    }
    const signedIn = await findSession(sessions, getCookie(event, SESSION_COOKIE))
    if (!signedIn) return method === 'GET' ? seeOther('/admin/sign-in') : forbidden('sign in first')
    if (!(await stillValid(signedIn))) {
      await signOut(event, signedIn)
      return method === 'GET' ? seeOther('/admin/sign-in?ended=api-key') : forbidden(KEY_ROTATED)
    }
    if (method === 'POST' && !validCsrf(signedIn.session, form.csrf)) {
      return forbidden('this form is stale or came from elsewhere: reload the page')
    }
    if (pathname === '/admin/sign-out' && method === 'POST') {
      await signOut(event, signedIn)
      return seeOther('/admin/sign-in')
    }
    const { session } = signedIn
    const owner = session.role === 'owner' ? session.app : undefined
    const home = owner === undefined ? '/admin/apps' : `/admin/apps/${owner}`
    if (pathname === '/admin' || pathname === '/admin/') return seeOther(home)
    const found = /^\/admin\/apps\/([^/]+)(\/[a-z-]+)?$/.exec(pathname)
    const match = found && isAppName(found[1] as string) ? found : undefined
    const key = match ? `${method} /admin/apps/:name${match[2] ?? ''}` : `${method} ${pathname}`
    const route = ROUTES[key]
    if (!route) return notFound()
    const ctx: PageContext = { csrf: session.csrfToken, ...(owner === undefined ? {} : { owner }) }
    if (owner !== undefined) {
      // The API refuses these too; the page says why, in a sentence, before anything is asked of it.
      if (!route.owner)
        return refused(
          ctx,
          `This page is the operator's: signed in with the API key of ${owner}, you reach ${owner} alone.`,
        )
      if (match && match[1] !== owner)
        return refused(
          ctx,
          `This is another application's page: signed in with the API key of ${owner}, you reach ${owner} alone.`,
        )
    }
    const api = owner === undefined ? adminApi : consoleCaller(options.admin, owner)
    try {
      return await route.run({ url: event.url, form, ctx, api, name: match?.[1] ?? '' }, deps)
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

/** What an owner whose API key was rotated (or application removed) reads: its session ended with the key. */
const KEY_ROTATED =
  "This application's API key was rotated, or the application removed: sign in again with a current key."

/** 403: an owner at a page that is not its own, with the sentence saying why. */
function refused(ctx: PageContext, why: string): Response {
  return page(
    <Layout title="Not yours" ctx={ctx}>
      <p role="alert">{why}</p>
      <p>
        <a href={`/admin/apps/${ctx.owner}`}>Back to {ctx.owner}</a>
      </p>
    </Layout>,
    403,
  )
}
