/**
 * The console's signed-in routes, each a handler: reads call the API's queries; actions call its
 * mutations and then redirect (post, redirect, get), except those that made a secret.
 * @module
 */
import { appPage, appsPage, createApp, newAppPage, rotateApiKey, rotateSecret, updateApp } from './apps.js'
import {
  auditPage,
  debuggerPage,
  debugToken,
  relaysPage,
  retryRelays,
  revokeSessions,
  sessionsPage,
  streamsPage,
  verifyStream,
} from './records.js'
import type { Handler } from './shared.js'

export type { ConsoleRequest, RouteDependencies } from './shared.js'

/** A route: its handler, and whether an application's owner may use it (else it is the operator's alone). */
export interface Route {
  run: Handler
  owner: boolean
}

const operator = (run: Handler): Route => ({ run, owner: false })
/** Reached by the admin and by an owner, whose pages show (and whose API calls reach) its application alone. */
const shared = (run: Handler): Route => ({ run, owner: true })

/** The signed-in routes: `METHOD path`, `:name` standing for an application's name. */
export const ROUTES: Readonly<Record<string, Route>> = {
  'GET /admin/apps': operator(appsPage),
  'GET /admin/register': operator(newAppPage),
  'POST /admin/apps': operator(createApp),
  'GET /admin/apps/:name': shared((req, deps) => appPage(req, deps)),
  'POST /admin/apps/:name/update': operator(updateApp),
  'POST /admin/apps/:name/rotate-secret': shared(rotateSecret),
  'POST /admin/apps/:name/rotate-api-key': shared(rotateApiKey),
  'GET /admin/sessions': shared(sessionsPage),
  'POST /admin/sessions/revoke': shared(revokeSessions),
  'GET /admin/audit': shared(auditPage),
  'GET /admin/relays': shared(relaysPage),
  'POST /admin/relays/retry': shared(retryRelays),
  'GET /admin/streams': operator(streamsPage),
  'POST /admin/streams/verify': operator(verifyStream),
  'GET /admin/debugger': shared(debuggerPage),
  'POST /admin/debugger': shared(debugToken),
}
