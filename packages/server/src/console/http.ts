/**
 * The console's HTTP answers: the headers every one of them carries (a strict CSP, no caching, no
 * referrer), pages, redirects, and the cross-site check every POST passes first.
 * @module
 */
import type { VNode } from 'preact'
import { renderToString } from 'preact-render-to-string'

/**
 * The Content-Security-Policy of every console response: scripts, styles and images from the
 * console itself only, no inline script or style, forms posting only here, never framed.
 */
export const CONSOLE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; " +
  "frame-ancestors 'none'; base-uri 'none'"

/** The headers on every console response. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONSOLE_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
  'x-frame-options': 'DENY',
}

/** Adds {@link SECURITY_HEADERS} to a response. */
export function secured(response: Response): Response {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) response.headers.set(name, value)
  return response
}

/** A page: preact renders it, escaping every text and attribute. */
export function page(vnode: VNode, status = 200): Response {
  return new Response(`<!doctype html>${renderToString(vnode)}`, {
    status,
    headers: { 'content-type': 'text/html; charset=utf-8' },
  })
}

/** 303 See Other: after a POST, the browser GETs `location` (post, redirect, get). */
export function seeOther(location: string): Response {
  return new Response(null, { status: 303, headers: { location } })
}

/** A refusal in plain text (a cross-site POST, a missing CSRF token). */
export function forbidden(reason: string): Response {
  return new Response(`${reason}\n`, { status: 403, headers: { 'content-type': 'text/plain; charset=utf-8' } })
}

/**
 * Whether a POST comes from the console's own pages. A browser says where a request comes from in
 * `Sec-Fetch-Site`; when it does not send that header, an `Origin` naming another site refuses it.
 * (Under `Referrer-Policy: no-referrer` Chromium sends `Origin: null` even for the page's own
 * forms, so `null` decides nothing.) `publicUrl` is accepted as the origin too: behind a proxy
 * that terminates TLS the request URL says `http:`.
 */
export function sameOrigin(request: Request, publicUrl: string): boolean {
  const site = request.headers.get('sec-fetch-site')
  if (site !== null) return site === 'same-origin'
  const origin = request.headers.get('origin')
  if (origin === null || origin === 'null') return true
  return origin === new URL(request.url).origin || origin === new URL(publicUrl).origin
}
